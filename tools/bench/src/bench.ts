#!/usr/bin/env node
/**
 * npm run bench [-- --quick]: side-by-side measurements on one machine and backend, printed as a
 * table and then, as the last line, one JSON object of ratios and raw times (DESIGN.md section 8).
 * Not a test: timings on shared machines are noisy, so nothing here asserts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { loadMnist } from '@distgan/mnist';
import { parameterCount, parameterSpec, SEED_MODEL } from '@distgan/models';
import { selectBackend } from '@distgan/runtime';
import { LocalExecutor, makeRunConfig, ShardComputer, trainStep, TrainingState } from '@distgan/training';
import { naiveSeedSteps } from './naive.js';

const COORDINATOR = fileURLToPath(new URL('../../../apps/coordinator/dist/cli.js', import.meta.url));

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface StepLine {
  stepMs: number;
  shardComputeMs: number;
  bytesIn: number;
  bytesOut: number;
}

/** Runs the real coordinator (and its local workers) and returns per-step metrics after warm-up. */
function coordinatorRun(args: string[], warmup: number): StepLine[] {
  const dir = mkdtempSync(join(tmpdir(), 'distgan-bench-'));
  try {
    const r = spawnSync(process.execPath, [COORDINATOR, '--preset', 'seed', '--ignore-stop-rule', '--sample-every', '0', '--no-dashboard', '--run-dir', join(dir, 'run'), ...args], { encoding: 'utf8', env: { ...process.env, DISTGAN_TOKEN: '' } });
    if (r.status !== 0) throw new Error(`coordinator ${args.join(' ')} failed:\n${r.stderr.slice(-2000)}`);
    return readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as StepLine)
      .slice(warmup);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function inProcessSteps(batchSize: number, shards: number, steps: number): Promise<{ times: number[]; tensorGrowth: number; rssGrowthMB: number }> {
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

function rounded<T extends Record<string, number>>(values: T): T {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Math.round(v * 10) / 10])) as T;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, backend: { type: 'string', default: 'auto' } } });
  const quick = values.quick === true;
  const steps = quick ? 12 : 40;
  const memorySteps = quick ? 60 : 300;
  const selection = await selectBackend(values.backend as 'auto');
  const backend = selection.backend;
  const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
  log(`backend ${backend}, ${availableParallelism()} cores, ${quick ? 'quick' : 'full'} run`);

  log('in-process step, seed model, B=128 K=4');
  const local = await inProcessSteps(128, 4, steps);
  log('naive tfjs step (the tutorial written plainly), B=128');
  naiveSeedSteps(2);
  const naive = naiveSeedSteps(steps).slice(0);
  log(`memory: ${memorySteps} in-process steps`);
  const memory = await inProcessSteps(128, 4, memorySteps);

  const warm = 3;
  const bigSteps = Math.max(6, Math.round(steps / 3));
  const distributed = (batchSize: number, shards: number, workers: number, n: number): StepLine[] => {
    log(`distributed: B=${batchSize} K=${shards}, ${workers} worker(s)`);
    return coordinatorRun(['--backend', backend, '--steps', String(n + warm), '--batch-size', String(batchSize), '--shards', String(shards), '--workers', String(workers)], warm);
  };
  // K = 2 gives each of 2 workers one shard per phase (the fewest messages); K = 4 and 8 split
  // finer, as a run with more or uneven workers would, and cost more coordinator work per phase.
  const k4w1 = distributed(128, 4, 1, steps);
  const k4w2 = distributed(128, 4, 2, steps);
  const k2w1 = distributed(128, 2, 1, steps);
  const k2w2 = distributed(128, 2, 2, steps);
  const b512w1 = distributed(512, 2, 1, bigSteps);
  const b512w2 = distributed(512, 2, 2, bigSteps);
  const b512k8 = quick ? null : { w1: distributed(512, 8, 1, bigSteps), w2: distributed(512, 8, 2, bigSteps) };

  const dParams = parameterCount(parameterSpec(SEED_MODEL.discriminator));
  const gParams = parameterCount(parameterSpec(SEED_MODEL.generator));
  // Minimum per step and worker (issue 7): per phase one changed-network snapshot in (G before
  // the D phase, D before the G phase) and one gradient out (D's, then G's).
  const minimumPerWorker = 4 * (dParams + gParams) + 4 * (dParams + gParams);
  const wire = (lines: StepLine[], workers: number) => median(lines.map((l) => l.bytesIn + l.bytesOut)) / (workers * minimumPerWorker);
  const stepMs = (lines: StepLine[]) => median(lines.map((l) => l.stepMs));
  // Step time not covered by the mean worker's compute: transfers, decoding, Adam, waiting.
  const coordinationMs = (lines: StepLine[], workers: number) => median(lines.map((l) => l.stepMs - l.shardComputeMs / workers));

  const t = {
    inProcessMs: median(local.times),
    naiveMs: median(naive),
    dist1Ms: stepMs(k4w1),
    dist2Ms: stepMs(k4w2),
    dist1K2Ms: stepMs(k2w1),
    dist2K2Ms: stepMs(k2w2),
    dist1B512Ms: stepMs(b512w1),
    dist2B512Ms: stepMs(b512w2),
    coordination1K2Ms: coordinationMs(k2w1, 1),
    coordination2K2Ms: coordinationMs(k2w2, 2),
    ...(b512k8 ? { dist1B512K8Ms: stepMs(b512k8.w1), dist2B512K8Ms: stepMs(b512k8.w2) } : {}),
  };
  const result = {
    overhead1: t.dist1Ms / t.inProcessMs,
    scaling2_b128: t.dist1K2Ms / t.dist2K2Ms,
    scaling2_b512: t.dist1B512Ms / t.dist2B512Ms,
    scaling2_b128_k4: t.dist1Ms / t.dist2Ms,
    ...(b512k8 ? { scaling2_b512_k8: stepMs(b512k8.w1) / stepMs(b512k8.w2) } : {}),
    wireRatio: wire(k2w2, 2),
    wireRatio_k4: wire(k4w2, 2),
    stepVsNaive: t.inProcessMs / t.naiveMs,
    tensorGrowth: memory.tensorGrowth,
    rssGrowthMB: Math.round(memory.rssGrowthMB * 10) / 10,
    memorySteps,
    backend,
    cores: availableParallelism(),
    quick,
    ...rounded(t),
  };
  const rows: [string, string, string][] = [
    ['overhead1', 'distributed (1 worker) / in-process step, B=128 K=4', result.overhead1.toFixed(3)],
    ['scaling2_b128', 'throughput 2 workers / 1 worker, B=128 K=2', result.scaling2_b128.toFixed(3)],
    ['scaling2_b512', 'throughput 2 workers / 1 worker, B=512 K=2', result.scaling2_b512.toFixed(3)],
    ['scaling2_b128_k4', 'throughput 2 workers / 1 worker, B=128 K=4', result.scaling2_b128_k4.toFixed(3)],
    ...(result.scaling2_b512_k8 !== undefined ? [['scaling2_b512_k8', 'throughput 2 workers / 1 worker, B=512 K=8', result.scaling2_b512_k8.toFixed(3)] as [string, string, string]] : []),
    ['wireRatio', 'bytes per step / minimum, K=2 with 2 workers', result.wireRatio.toFixed(3)],
    ['wireRatio_k4', 'bytes per step / minimum, K=4 with 2 workers', result.wireRatio_k4.toFixed(3)],
    ['stepVsNaive', 'in-process step / naive tfjs step, B=128', result.stepVsNaive.toFixed(3)],
    ['tensorGrowth', `tensors after ${memorySteps} steps - before`, String(result.tensorGrowth)],
    ['rssGrowthMB', `RSS growth over ${memorySteps} steps`, result.rssGrowthMB.toFixed(1)],
  ];
  process.stdout.write(`\n${'metric'.padEnd(15)}${'what'.padEnd(56)}value\n`);
  for (const [k, what, v] of rows) process.stdout.write(`${k.padEnd(15)}${what.padEnd(56)}${v}\n`);
  const r = rounded(t);
  process.stdout.write(`raw ms per step: in-process ${r.inProcessMs}, naive ${r.naiveMs}; B=128 K=4: 1 worker ${r.dist1Ms}, 2 workers ${r.dist2Ms}; B=128 K=2: 1 worker ${r.dist1K2Ms}, 2 workers ${r.dist2K2Ms} (not computing: ${r.coordination1K2Ms}, ${r.coordination2K2Ms}); B=512 K=2: 1 worker ${r.dist1B512Ms}, 2 workers ${r.dist2B512Ms}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
