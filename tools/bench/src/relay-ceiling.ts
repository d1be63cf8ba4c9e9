/**
 * The relay ceiling on `scaling2`: the distributed step with the coordinator's arithmetic taken
 * out (`relay-only.ts`: the real server, pool, frames and workers; no fold, no Adam, no probe).
 * Write a training run's steps as T1 = R1 + x1 (one worker) and T2 = R2 + x2 (two), where R1 and
 * R2 are the relay runs' and x1, x2 what the arithmetic adds. With one worker the coordinator has
 * a core to itself and its arithmetic delays a step only between phases; with two it is also
 * there between phases and takes CPU from the workers during them, so x2 >= x1 >= 0, and for
 * R1 > R2, scaling2 = (R1 + x1) / (R2 + x2) <= R1 / R2. So on this machine no coordinator
 * arithmetic, however fast, lifts `scaling2` above this ratio: what is left is the workers' compute
 * and the frames themselves (docs/performance.md).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseChildAnswer } from './child-answer.js';

// Through dist from either folder, so tests running the TypeScript source start the built child.
const CHILD = fileURLToPath(new URL('../dist/relay-only.js', import.meta.url));

/** A relay-only run's last line, `{"stepMs":[...]}`; anything else is an error that quotes it. */
export function parseRelayRun(line: string): number[] {
  return parseChildAnswer('relay-only', '{"stepMs":[...]}', line, (value) => {
    const stepMs = (value as { stepMs?: unknown } | null)?.stepMs;
    return Array.isArray(stepMs) && stepMs.length > 0 && stepMs.every((t): t is number => typeof t === 'number' && t > 0) ? stepMs : undefined;
  });
}

/** Step times of a relay-only run with `workers` local workers, after `warmup` steps. */
export function relayOnly(batchSize: number, workers: number, steps: number, warmup: number, backend: string): Promise<number[]> {
  const args = [
    CHILD,
    '--batch-size',
    String(batchSize),
    '--workers',
    String(workers),
    '--steps',
    String(steps),
    '--warmup',
    String(warmup),
    '--backend',
    backend,
  ];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 * 2 ** 20, env: { ...process.env, DISTGAN_TOKEN: '' } }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`relay-only process failed (${err.code ?? err.signal}):\n${stderr.slice(-2000)}`));
      try {
        resolve(parseRelayRun(stdout.trimEnd().split('\n').at(-1) ?? ''));
      } catch (parseErr) {
        reject(parseErr);
      }
    });
  });
}
