import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '@distgan/mnist';
import { expect } from 'vitest';
import { LocalExecutor, planTasks, ShardComputer, trainStep, TrainingState, type RunConfig } from '../index.js';

/** The MNIST training set, loaded once per test file. */
export const dataset = loadMnist();

export function computeAll(config: RunConfig, state: TrainingState, phase: 'D' | 'G'): Float64Array {
  const computer = new ShardComputer(config, dataset);
  computer.networks.load('D', state.version('D'), state.weights('D'));
  computer.networks.load('G', state.version('G'), state.weights('G'));
  const sum = new Float64Array(state.weights(phase).length);
  for (const task of planTasks(state, 0, phase, dataset.count)) {
    const r = computer.compute(task);
    r.gradient.forEach((g, i) => {
      sum[i]! += g;
    });
  }
  computer.dispose();
  return sum.map((s) => s / config.batchSize);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

/**
 * For a model variant (`configFor(K)`): the summed shard gradients of both phases agree for 1 and
 * 3 shards, and a training step after the first leaves tf.memory().numTensors unchanged.
 */
export async function expectShardInvariantAndLeakFree(configFor: (shards: number) => RunConfig): Promise<void> {
  for (const phase of ['D', 'G'] as const) {
    const whole = computeAll(configFor(1), new TrainingState(configFor(1)), phase);
    const sharded = computeAll(configFor(3), new TrainingState(configFor(3)), phase);
    const { diff, scale } = maxAbsDiff(sharded, whole);
    expect(scale).toBeGreaterThan(0);
    expect(diff / scale).toBeLessThan(1e-5);
  }
  const config = configFor(2);
  const state = new TrainingState(config);
  const computer = new ShardComputer(config, dataset);
  const executor = new LocalExecutor(computer);
  await trainStep(state, executor, dataset.count);
  const before = tf.memory().numTensors;
  const result = await trainStep(state, executor, dataset.count);
  expect(tf.memory().numTensors).toBe(before);
  expect(Number.isFinite(result.d.loss) && Number.isFinite(result.g.loss)).toBe(true);
  computer.dispose();
}
