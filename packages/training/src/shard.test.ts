import * as tf from '@tensorflow/tfjs';
import { discriminatorLoss, generatorLoss } from '@distgan/losses';
import { classConditional, fillNoise } from '@distgan/models';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRunConfig, noiseStream, planTasks, ShardComputer, shardRange, TrainingState, type RunConfig } from './index.js';

import { computeAll, dataset, maxAbsDiff } from './test-support/shard-checks.js';

beforeAll(async () => {
  await selectBackend();
});

describe('shard gradients', () => {
  it('summed over K shards and divided by B equal the full-batch mean-loss gradient (rel. 1e-5)', () => {
    for (const phase of ['D', 'G'] as const) {
      const config = makeRunConfig('seed', { batchSize: 24, shards: 5, seed: 3 });
      const state = new TrainingState(config);
      const sharded = computeAll(config, state, phase);
      // The reference: the tutorial's formula, one batch, mean reduction, written directly in tfjs.
      const computer = new ShardComputer(config, dataset);
      const nets = computer.networks;
      nets.load('D', 0, state.dWeights);
      nets.load('G', 0, state.gWeights);
      const [dTasks, gTasks] = [planTasks(state, 0, 'D', dataset.count), planTasks(state, 0, 'G', dataset.count)];
      const reference = tf.tidy(() => {
        const tasks = phase === 'D' ? dTasks : gTasks;
        // Each shard's noise rows, regenerated exactly as a worker derives them.
        const z = tf.concat(tasks.map((t) => tf.tensor2d(fillNoise(config.model.noise, noiseStream(config.seed, 0, phase), t.start, t.count), [t.count, 200])));
        const vars = phase === 'D' ? nets.d.variables : nets.g.variables;
        const { grads } = tf.variableGrads(() => {
          if (phase === 'D') {
            const indices = Uint32Array.from(dTasks.flatMap((t) => Array.from(t.indices!)));
            const x = tf.tensor2d(dataset.batch(indices), [indices.length, 784]);
            return discriminatorLoss(nets.d.apply(x), nets.d.apply(nets.g.apply(z)), { reduction: 'mean' }).total;
          }
          return generatorLoss(nets.d.apply(nets.g.apply(z), 'weightsAndInput'), { reduction: 'mean' });
        }, vars as tf.Variable[]);
        return tf.concat(vars.map((v) => tf.reshape(grads[v.name]!, [-1]))).dataSync();
      });
      computer.dispose();
      const { diff, scale } = maxAbsDiff(sharded, reference);
      expect(scale).toBeGreaterThan(0);
      expect(diff / scale).toBeLessThan(1e-5);
    }
  });

  it('match central finite differences of the shard loss on a tiny model (rel. 2e-2)', () => {
    const config = makeRunConfig('tiny', { batchSize: 8, shards: 1, seed: 5 });
    const state = new TrainingState(config);
    const computer = new ShardComputer(config, dataset);
    const [task] = planTasks(state, 0, 'D', dataset.count);
    computer.networks.load('G', 0, state.gWeights);
    computer.networks.load('D', 0, state.dWeights);
    const { gradient } = computer.compute(task!);
    // Check the 5 largest gradient entries: they dominate float32 rounding in the loss.
    const order = Array.from(gradient.keys())
      .sort((a, b) => Math.abs(gradient[b]!) - Math.abs(gradient[a]!))
      .slice(0, 5);
    const h = 1e-2;
    for (const i of order) {
      const lossAt = (delta: number) => {
        const w = Float32Array.from(state.dWeights);
        w[i]! += delta;
        computer.networks.load('D', 0, w);
        return computer.compute(task!).lossSum;
      };
      const numeric = (lossAt(h) - lossAt(-h)) / (2 * h);
      expect(Math.abs(numeric - gradient[i]!) / Math.abs(gradient[i]!)).toBeLessThan(2e-2);
    }
    computer.dispose();
  });

  it("of a D task, begun from D's snapshot alone (the real images' share) and finished once G's arrives, has the bits of computing it at once", () => {
    // Dropout and a projection: every part of D that the real and fake passes use differently.
    const base = makeRunConfig('tiny', { batchSize: 6, shards: 2 });
    const model = classConditional(base.model, 10, { projection: true });
    const config: RunConfig = { ...base, model: { ...model, discriminator: { ...model.discriminator, dropout: 0.5 } } };
    const state = new TrainingState(config);
    const [first, second] = planTasks(state, 0, 'D', dataset.count);
    const computer = new ShardComputer(config, dataset);
    const before = tf.memory().numTensors;
    computer.networks.load('D', 0, state.dWeights); // G not loaded yet, as on a worker before G's snapshot
    const share = computer.computeRealShare(first!);
    expect(() => computer.compute(first!, computer.computeRealShare(first!))).toThrow(/needs G@0 but G@-1 is loaded/);
    computer.networks.load('G', 0, state.gWeights);
    const begunEarly = computer.compute(first!, share);
    const atOnce = computer.compute(first!);
    expect(Buffer.from(begunEarly.gradient.buffer).equals(Buffer.from(atOnce.gradient.buffer))).toBe(true);
    expect([begunEarly.lossSum, begunEarly.dRealSum, begunEarly.dFakeSum]).toEqual([atOnce.lossSum, atOnce.dRealSum, atOnce.dFakeSum]);
    expect(atOnce.dRealSum).toBeGreaterThan(0);
    // A share belongs to its own task: another shard's is refused (and freed).
    expect(() => computer.compute(second!, computer.computeRealShare(first!))).toThrow(/real-image share of 0\/D\/0 at D@0 given for task 0\/D\/1/);
    expect(() => computer.computeRealShare(planTasks(state, 0, 'G', dataset.count)[0]!)).toThrow(/only a D task has a real-image share/);
    // A share whose gradient is gone fails where the two halves are added; the fake half is freed too.
    const spent = computer.computeRealShare(first!);
    spent.gradient.dispose();
    expect(() => computer.compute(first!, spent)).toThrow();
    expect(tf.memory().numTensors).toBe(before);
    computer.dispose();
  });

  it("computeWith hands `use` compute's gradient read in place (wasm: a view of the heap) and frees it even when `use` throws", () => {
    const config = makeRunConfig('tiny', { batchSize: 8, shards: 2 });
    const state = new TrainingState(config);
    const computer = new ShardComputer(config, dataset);
    computer.networks.load('D', 0, state.dWeights);
    computer.networks.load('G', 0, state.gWeights);
    const before = tf.memory().numTensors;
    for (const phase of ['D', 'G'] as const) {
      const [task] = planTasks(state, 0, phase, dataset.count);
      const copied = computer.compute(task!);
      let seen: Float32Array | undefined;
      const kept = computer.computeWith(task!, undefined, (result) => {
        seen = result.gradient;
        return Float32Array.from(result.gradient);
      });
      expect(Buffer.from(kept.buffer).equals(Buffer.from(copied.gradient.buffer))).toBe(true);
      // A download would have its own buffer; the wasm heap's is larger than any one tensor.
      expect(seen!.buffer.byteLength > seen!.byteLength).toBe(tf.getBackend() === 'wasm');
      expect(() =>
        computer.computeWith(task!, undefined, () => {
          throw new Error('encoding failed');
        }),
      ).toThrow('encoding failed');
    }
    expect(tf.memory().numTensors).toBe(before);
    computer.dispose();
  });

  it('cuts the batch into contiguous shards that cover it exactly', () => {
    const ranges = Array.from({ length: 5 }, (_, k) => shardRange(24, 5, k));
    expect(ranges).toEqual([
      { start: 0, count: 5 },
      { start: 5, count: 5 },
      { start: 10, count: 5 },
      { start: 15, count: 5 },
      { start: 20, count: 4 },
    ]);
  });
});
