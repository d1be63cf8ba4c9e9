// The bench's measuring runs and the arithmetic its ratios share.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '@distgan/mnist';
import { LocalExecutor, makeRunConfig, ShardComputer, trainStep, TrainingState } from '@distgan/training';

const COORDINATOR = fileURLToPath(new URL('../../../apps/coordinator/dist/cli.js', import.meta.url));

/** Ratios are reported to three decimals. */
export function thousandths(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface StepLine {
  stepMs: number;
  shardComputeMs: number;
  bytesIn: number;
  bytesOut: number;
  coordinatorCpuMs: number;
  workerCpuMs: number;
  workers: number;
}

/**
 * Runs the real coordinator (and its local workers) and returns per-step metrics after warm-up;
 * throws if a returned step ran with other than `workers` workers connected.
 */
export function coordinatorRun(args: string[], warmup: number, workers: number, env: Record<string, string> = {}): StepLine[] {
  const dir = mkdtempSync(join(tmpdir(), 'distgan-bench-'));
  try {
    const r = spawnSync(
      process.execPath,
      [COORDINATOR, '--preset', 'seed', '--ignore-stop-rule', '--sample-every', '0', '--no-dashboard', '--run-dir', join(dir, 'run'), ...args],
      { encoding: 'utf8', env: { ...process.env, DISTGAN_TOKEN: '', ...env } },
    );
    if (r.status !== 0) throw new Error(`coordinator ${args.join(' ')} failed:\n${r.stderr.slice(-2000)}`);
    const lines = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as StepLine)
      .slice(warmup);
    const odd = lines.find((l) => l.workers !== workers);
    if (odd) throw new Error(`coordinator ${args.join(' ')}: a measured step ran with ${odd.workers} worker(s), not ${workers}`);
    return lines;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function inProcessSteps(
  batchSize: number,
  shards: number,
  steps: number,
): Promise<{ times: number[]; tensorGrowth: number; rssGrowthMB: number }> {
  const data = loadMnist();
  const config = makeRunConfig('seed', { batchSize, shards, steps: steps + 1 });
  const state = new TrainingState(config);
  const computer = new ShardComputer(config, data);
  const executor = new LocalExecutor(computer);
  await trainStep(state, executor, data.count); // warm-up: kernels, buffers
  const tensors0 = tf.memory().numTensors;
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    await trainStep(state, executor, data.count);
    times.push(performance.now() - t0);
  }
  globalThis.gc?.();
  const result = { times, tensorGrowth: tf.memory().numTensors - tensors0, rssGrowthMB: (process.memoryUsage().rss - rss0) / 2 ** 20 };
  computer.dispose();
  return result;
}

export function rounded<T extends Record<string, number>>(values: T): T {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Math.round(v * 10) / 10])) as T;
}
