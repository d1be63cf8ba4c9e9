import * as tf from '@tensorflow/tfjs';
import { MnistDataset } from '@distgan/mnist';
import { discriminatorLoss } from '@distgan/losses';
import { classConditional, fillNoise, poolingDiscriminator, upsamplingGenerator, type GanModelConfig } from '@distgan/models';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { fakeClasses, makeRunConfig, noiseStream, planTasks, runConfigHash, ShardComputer, TrainingState, validateRunConfig, type RunConfig } from './index.js';

import { computeAll, dataset, expectShardInvariantAndLeakFree, maxAbsDiff } from './test-support/shard-checks.js';

beforeAll(async () => {
  await selectBackend();
});

describe('convolutional networks', () => {
  /** The tiny preset with a small conv G and D: every image layer kind, on the worker's backend. */
  const convConfig = (shards: number): RunConfig => {
    const base = makeRunConfig('tiny', { batchSize: 6, shards });
    const model: GanModelConfig = {
      ...base.model,
      generator: upsamplingGenerator({ noiseSize: 8, mapChannels: 4, hiddenFilters: 4, outputKernel: 3, outputActivation: 'sigmoid' }),
      discriminator: poolingDiscriminator([4, 4]),
    };
    return { ...base, model };
  };

  it('give the same gradient in 1 shard or 3 (rel. 1e-5) and a step leaks no tensors', () => expectShardInvariantAndLeakFree(convConfig));
});

describe('class-conditional networks', () => {
  /** The tiny preset with a one-hot digit code appended to G's noise and D's image. */
  const conditionalConfig = (shards: number): RunConfig => {
    const base = makeRunConfig('tiny', { batchSize: 6, shards });
    return { ...base, model: classConditional(base.model, 10) };
  };

  it('give the same gradient in 1 shard or 3 (rel. 1e-5) and a step leaks no tensors', () => expectShardInvariantAndLeakFree(conditionalConfig));

  it('with a projection discriminator too', () =>
    expectShardInvariantAndLeakFree((shards) => {
      const base = makeRunConfig('tiny', { batchSize: 6, shards });
      return { ...base, model: classConditional(base.model, 10, { projection: true }) };
    }));

  it("with dropout in D too (masks drawn per row), which changes both phases' gradients", async () => {
    const withDropout = (shards: number): RunConfig => {
      const base = conditionalConfig(shards);
      return { ...base, model: { ...base.model, discriminator: { ...base.model.discriminator, dropout: 0.5 } } };
    };
    await expectShardInvariantAndLeakFree(withDropout);
    for (const phase of ['D', 'G'] as const) {
      const { diff, scale } = maxAbsDiff(
        computeAll(withDropout(1), new TrainingState(withDropout(1)), phase),
        computeAll(conditionalConfig(1), new TrainingState(conditionalConfig(1)), phase),
      );
      expect(diff / scale).toBeGreaterThan(1e-3);
    }
  });

  it("with the least-squares objective too, which changes both phases' gradients; other objectives are rejected", async () => {
    const leastSquares = (shards: number): RunConfig => ({ ...conditionalConfig(shards), objective: 'leastSquares' });
    await expectShardInvariantAndLeakFree(leastSquares);
    for (const phase of ['D', 'G'] as const) {
      const { diff, scale } = maxAbsDiff(
        computeAll(leastSquares(1), new TrainingState(leastSquares(1)), phase),
        computeAll(conditionalConfig(1), new TrainingState(conditionalConfig(1)), phase),
      );
      expect(diff / scale).toBeGreaterThan(1e-3);
    }
    expect(() => validateRunConfig({ ...conditionalConfig(1), objective: 'hinge' as 'leastSquares' })).toThrow(
      /objective must be crossEntropy or leastSquares, got hinge/,
    );
    expect(runConfigHash({ ...conditionalConfig(1), objective: undefined })).toBe(runConfigHash(conditionalConfig(1)));
  });

  it("feed D each real image's own label, and reject labels outside the classes", () => {
    const config = conditionalConfig(1);
    const state = new TrainingState(config);
    const relabelled = new MnistDataset(
      dataset.images,
      dataset.labels.map((label) => (label + 1) % 10),
      'relabelled',
    );
    const gradient = (data: MnistDataset) => {
      const computer = new ShardComputer(config, data);
      computer.networks.load('D', 0, state.dWeights);
      computer.networks.load('G', 0, state.gWeights);
      const [task] = planTasks(state, 0, 'D', data.count);
      const result = computer.compute(task!);
      computer.dispose();
      return result.gradient;
    };
    const own = gradient(dataset);
    // The reference, written directly: real rows coded with their dataset labels, fake rows with
    // the classes the stream draws for them.
    const [task] = planTasks(state, 0, 'D', dataset.count);
    const nets = new ShardComputer(config, dataset).networks;
    nets.load('D', 0, state.dWeights);
    nets.load('G', 0, state.gWeights);
    const reference = tf.tidy(() => {
      const { noise, pixelRange } = config.model;
      const code = (labels: ArrayLike<number>) => tf.cast(tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), 10), 'float32') as tf.Tensor2D;
      const z = tf.tensor2d(fillNoise(noise, noiseStream(config.seed, 0, 'D'), 0, 6), [6, noise.size]);
      const drawn = fakeClasses(config.seed, 0, 'D', 10, 0, 6, new Int32Array(6));
      const fake = tf.concat([nets.g.apply(tf.concat([z, code(drawn)], 1)), code(drawn)], 1) as tf.Tensor2D;
      const real = tf.concat(
        [tf.tensor2d(dataset.batch(task!.indices!, pixelRange), [6, 784]), code(Array.from(task!.indices!, (i) => dataset.labels[i]!))],
        1,
      ) as tf.Tensor2D;
      const { grads } = tf.variableGrads(
        () => discriminatorLoss(nets.d.apply(real), nets.d.apply(fake), { reduction: 'sum', realLabel: config.realLabel }).total,
        nets.d.variables as tf.Variable[],
      );
      return tf.concat(nets.d.variables.map((v) => tf.reshape(grads[v.name]!, [-1]))).dataSync();
    });
    nets.dispose();
    // Bit for bit: the worker differentiates the real and fake terms apart and adds them, which
    // is what autodiff of their sum does to each weight.
    expect(Buffer.from(own.buffer).equals(Buffer.from(reference.buffer))).toBe(true);
    // ... and other labels would give another gradient: the comparison can fail.
    const shifted = gradient(relabelled);
    const { diff, scale } = maxAbsDiff(shifted, own);
    expect(diff / scale).toBeGreaterThan(1e-3);
    const outOfRange = new MnistDataset(
      dataset.images,
      dataset.labels.map((label, i) => (i === 5 ? 10 : label)),
      'bad-labels',
    );
    expect(() => new ShardComputer(config, outOfRange)).toThrow(/bad-labels: image 5 has label 10, outside the model's 10 classes/);
  });

  it("draw each fake row's class uniformly and the same whichever shard draws it", () => {
    const all = fakeClasses(1, 3, 'G', 10, 0, 10_000, new Int32Array(10_000));
    const counts = new Array<number>(10).fill(0);
    for (const c of all) counts[c]!++;
    for (const count of counts) expect(Math.abs(count - 1000)).toBeLessThan(120);
    expect(Array.from(fakeClasses(1, 3, 'G', 10, 4000, 50, new Int32Array(50)))).toEqual(Array.from(all.subarray(4000, 4050)));
    expect(Array.from(fakeClasses(1, 3, 'D', 10, 0, 50, new Int32Array(50)))).not.toEqual(Array.from(all.subarray(0, 50)));
  });
});
