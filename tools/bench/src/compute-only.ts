#!/usr/bin/env node
/**
 * One process of the compute ceiling (`compute-ceiling.ts`): a worker's work for training steps
 * and nothing else. Each step it loads a changed G into tfjs and computes its D task, then loads a
 * changed D and computes its G task, as a worker does when the snapshots arrive (so XNNPACK
 * repacks each weight once a step, as in training). No coordinator, no socket, no frame decoding.
 *
 * Protocol with the parent, one line each: the child prints `ready` after its warm-up steps,
 * waits for a line on stdin, runs steps for `--seconds`, then prints `{"steps":n,"ms":t}`.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadMnist } from '@distgan/mnist';
import { integerArg, parseBackendChoice, relaxHeapGrowth, selectBackend } from '@distgan/runtime';
import { makeRunConfig, planTasks, ShardComputer, TrainingState, type Phase } from '@distgan/training';

const WARMUP_STEPS = 5;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'batch-size': { type: 'string' },
      shards: { type: 'string' },
      shard: { type: 'string' },
      seconds: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
    },
  });
  const batchSize = integerArg(1)(values['batch-size'] ?? '');
  const shards = integerArg(1)(values.shards ?? '');
  const shard = integerArg(0)(values.shard ?? '');
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${values.seconds}`);
  if (shard >= shards) throw new Error(`--shard ${shard} is not below --shards ${shards}`);

  relaxHeapGrowth(); // as a worker does
  await selectBackend(parseBackendChoice(values.backend ?? 'auto'));
  const data = loadMnist();
  const config = makeRunConfig('seed', { batchSize, shards, steps: 1_000_000 });
  const state = new TrainingState(config);
  const computer = new ShardComputer(config, data);
  const weights = { D: state.weights('D').slice(), G: state.weights('G').slice() };
  const versions = { D: 0, G: 0 };
  computer.networks.load('D', 0, weights.D);

  function runTask(step: number, phase: Phase): void {
    // As a worker does: before each phase, a changed snapshot of the network the last phase
    // trained (G before a D phase, D before a G phase); the other one is still loaded.
    const changed = phase === 'D' ? 'G' : 'D';
    weights[changed][step % weights[changed].length]! += 1e-6;
    computer.networks.load(changed, ++versions[changed], weights[changed]);
    const task = planTasks(state, step, phase, data.count)[shard]!;
    computer.computeWith({ ...task, dVersion: versions.D, gVersion: versions.G }, undefined, (result) => result.gradient[0]);
  }

  function runStep(step: number): void {
    runTask(step, 'D');
    runTask(step, 'G');
  }

  for (let step = 0; step < WARMUP_STEPS; step++) runStep(step);
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
  const started = performance.now();
  let steps = 0;
  while (performance.now() - started < seconds * 1000) runStep(WARMUP_STEPS + steps++);
  const ms = performance.now() - started;
  computer.dispose();
  process.stdout.write(`${JSON.stringify({ steps, ms })}\n`, () => process.exit(0));
}

try {
  await main();
} catch (err) {
  process.stderr.write(`compute-only: ${(err as Error).message}\n`);
  process.exit(1);
}
