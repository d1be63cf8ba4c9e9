/**
 * The compute ceiling on `scaling2`: the workers' work alone (`compute-only.ts`), one process at
 * the whole batch against two at half of it each, run at the same time, with no coordinator and
 * no wire, taking C1 and C2 a step. A distributed run adds to each step time that is not the
 * workers' compute (frames, the coordinator's fold and Adam, waiting), a with one worker and b with
 * two, and b >= a >= 0: that time is no shorter with two workers than with one. So for C1 > C2,
 * scaling2 = (C1 + a) / (C2 + b) <= C1 / C2, and this ratio bounds scaling2 from above for this
 * machine and this tfjs backend, whatever the coordinator does (docs/performance.md).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseChildAnswer } from './child-answer.js';

// Through dist from either folder, so tests running the TypeScript source start the built child.
const CHILD = fileURLToPath(new URL('../dist/compute-only.js', import.meta.url));

/** Steps one compute-only process finished in its window, and the window's length. */
export interface ComputeRun {
  readonly steps: number;
  readonly ms: number;
}

/** Milliseconds a step of one compute-only run took. */
export function msPerStep(run: ComputeRun): number {
  return run.ms / run.steps;
}

/** A compute-only process's last line, `{"steps":n,"ms":t}`; anything else is an error that quotes it. */
export function parseComputeRun(line: string): ComputeRun {
  return parseChildAnswer('compute-only', '{"steps":n,"ms":t}', line, (value) => {
    const run = value as Partial<ComputeRun> | null;
    const steps = Number(run?.steps);
    return run && Number.isInteger(steps) && steps >= 0 && typeof run.ms === 'number' && run.ms > 0 ? { steps, ms: run.ms } : undefined;
  });
}

/**
 * Throughput of `halves` (processes running together, each doing 1/halves.length of every step)
 * over that of `whole` (one process doing whole steps): whole's time per step times the whole
 * steps per millisecond the halves finish together.
 */
export function throughputRatio(whole: ComputeRun, halves: readonly ComputeRun[]): number {
  if (whole.steps <= 0 || halves.length === 0 || halves.some((h) => h.steps <= 0)) throw new Error('every compute-only run must finish at least one step');
  const partsPerMs = halves.reduce((sum, h) => sum + 1 / msPerStep(h), 0);
  return msPerStep(whole) * (partsPerMs / halves.length);
}

/** A compute-only process and its stdout, a line at a time; `nextLine` rejects (with stderr) if it ends first. */
function startChild(args: string[]): { child: ChildProcessByStdio<Writable, Readable, Readable>; nextLine: () => Promise<string> } {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close' comes after stdout's last line was read, so an answer is never taken for a death.
  const closed = new Promise<never>((_, reject) =>
    child.once('close', (code) => reject(new Error(`compute-only process ended (${code}) before answering:\n${stderr.slice(-2000)}`))),
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = () => Promise.race([lines.next().then((r) => (r.done ? closed : r.value)), closed]);
  return { child, nextLine };
}

/**
 * Starts `processes` compute-only processes that split a batch of `batchSize` rows, lets them all
 * warm up, starts their windows of `seconds` together and returns what each finished.
 */
export async function computeOnly(batchSize: number, processes: number, seconds: number, backend: string): Promise<ComputeRun[]> {
  const children = Array.from({ length: processes }, (_, shard) =>
    startChild([
      CHILD,
      '--batch-size',
      String(batchSize),
      '--shards',
      String(processes),
      '--shard',
      String(shard),
      '--seconds',
      String(seconds),
      '--backend',
      backend,
    ]),
  );
  try {
    const ready = await Promise.all(children.map(({ nextLine }) => nextLine()));
    const odd = ready.find((line) => line !== 'ready');
    if (odd !== undefined) throw new Error(`compute-only process said "${odd}" instead of ready`);
    const answers = children.map(({ nextLine }) => nextLine());
    for (const { child } of children) child.stdin.write('go\n');
    return (await Promise.all(answers)).map(parseComputeRun);
  } finally {
    for (const { child } of children) if (child.exitCode === null) child.kill();
  }
}
