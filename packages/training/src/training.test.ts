import * as tf from '@tensorflow/tfjs';
import { loadMnist, MnistDataset } from '@distgan/mnist';
import { discriminatorLoss, generatorLoss } from '@distgan/losses';
import { classConditional, fillNoise, poolingDiscriminator, upsamplingGenerator, type GanModelConfig } from '@distgan/models';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  emaDecayAt,
  fakeClasses,
  LocalExecutor,
  makeRunConfig,
  noiseStream,
  planTasks,
  planUpcoming,
  runConfigHash,
  ShardComputer,
  ShardOrderedSum,
  shardRange,
  trainStep,
  TrainingState,
  validateRunConfig,
  type PhasePlan,
  type RunConfig,
  type ShardResult,
  type ShardExecutor,
  type ShardTask,
} from './index.js';

const dataset = loadMnist();

beforeAll(async () => {
  await selectBackend();
});

function computeAll(config: RunConfig, state: TrainingState, phase: 'D' | 'G'): Float64Array {
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

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
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
async function expectShardInvariantAndLeakFree(configFor: (shards: number) => RunConfig): Promise<void> {
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

describe('planUpcoming', () => {
  it("hands out the next step's D tasks during G, at the G version that phase makes, and nothing else", () => {
    const state = new TrainingState(makeRunConfig('tiny', { batchSize: 6, shards: 2, steps: 3 }));
    const upcoming = planUpcoming(state, 1, 'G', 100);
    expect(upcoming).toEqual(planTasks(state, 2, 'D', 100).map((t) => ({ ...t, gVersion: state.version('G') + 1 })));
    expect(upcoming.map((t) => [t.step, t.phase, t.shard])).toEqual([
      [2, 'D', 0],
      [2, 'D', 1],
    ]);
    expect(planUpcoming(state, 1, 'D', 100)).toEqual([]);
    expect(planUpcoming(state, 2, 'G', 100)).toEqual([]); // the last step has no next one
  });
});

describe('ShardOrderedSum', () => {
  it('gives the same bits reused after reset() or in a given array as fresh, whatever the arrival order, -0 included', () => {
    const shards = [Float32Array.of(-0, 1.5, 1e-8, -0), Float32Array.of(-0, 2 ** -30, 3, 0), Float32Array.of(-0, 7, -1e-8, -0)];
    const fresh = new ShardOrderedSum(4, 3);
    for (const [k, g] of shards.entries()) fresh.add(k, g);
    // A given array (the coordinator passes Adam's gradient buffer) holding leftovers.
    const into = Float64Array.of(5, -5, 5, -5);
    const reused = new ShardOrderedSum(4, 3, into);
    expect(() => new ShardOrderedSum(4, 3, new Float64Array(3))).toThrow(/a sum of 4 values cannot live in an array of 3/);
    reused.add(0, Float32Array.of(9, 9, 9, 9)); // leaves non-zero values behind
    reused.reset();
    expect(reused.complete).toBe(false);
    for (const k of [2, 0, 1]) expect(reused.add(k, shards[k]!)).toBe(true);
    expect(reused.add(1, shards[1]!)).toBe(false);
    const bits = (a: Float64Array) => Array.from(new Uint32Array(a.buffer));
    expect(bits(reused.total())).toEqual(bits(fresh.total()));
    expect(reused.total()).toBe(into);
    expect(Object.is(fresh.total()[0], 0)).toBe(true); // 0 + -0 + -0 + -0 is +0, as from a zeroed sum
    expect(Object.is(fresh.total()[3], 0)).toBe(true);
  });

  it('gives the in-order bits for every arrival order of 2 and 3 shards, where reordering later terms would change them', () => {
    const tiny = 2 ** -53; // 1 + tiny rounds to 1 in float64, tiny + tiny + 1 does not
    // Per coordinate (column) the shards' values; column 1 and 2 tell apart sums in different orders.
    // Six columns: the sum folds four values per iteration, so columns 4 and 5 take the loop's tail.
    const shards = [Float32Array.of(-0, tiny, 1, 1.5, 0, 2.5), Float32Array.of(-0, tiny, tiny, -(2 ** -30), -0, 0.25), Float32Array.of(-0, 1, tiny, 7, -0, 3)];
    const bits = (a: Float64Array) => Array.from(new Uint32Array(a.buffer.slice(0)));
    const permutations = (items: number[]): number[][] =>
      items.length <= 1 ? [items] : items.flatMap((x, i) => permutations(items.filter((_, j) => j !== i)).map((rest) => [x, ...rest]));
    for (const k of [2, 3]) {
      const inOrder = new ShardOrderedSum(6, k);
      for (let s = 0; s < k; s++) inOrder.add(s, shards[s]!);
      const expected = bits(inOrder.total());
      // In order is the plain left-to-right float64 sum, column by column.
      expect(expected).toEqual(bits(Float64Array.from(shards[0]!, (_, c) => shards.slice(0, k).reduce((acc, g) => acc + g[c]!, 0))));
      const sum = new ShardOrderedSum(6, k);
      for (const order of permutations([...Array(k).keys()])) {
        sum.reset();
        order.forEach((s, i) => {
          expect(sum.complete).toBe(false);
          expect(sum.add(s, shards[s]!)).toBe(true);
          expect(sum.has(s)).toBe(true);
          if (i < k - 1) expect(() => sum.total()).toThrow(/shards are summed/);
        });
        expect(sum.complete).toBe(true);
        expect(bits(sum.total()), `K=${k}, order ${order.join(',')}`).toEqual(expected);
      }
    }
    // The guard itself: summing the 3 shards in another order than 0, 1, 2 (or 1, 0, 2) gives other bits.
    const reordered = new Float64Array(6).map((_, i) => 0 + shards[0]![i]! + shards[2]![i]! + shards[1]![i]!);
    expect(bits(reordered)).not.toEqual(bits(new Float64Array(6).map((_, i) => 0 + shards[0]![i]! + shards[1]![i]! + shards[2]![i]!)));
  });
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

/** Computes a phase's tasks in reverse order, as if the last shard's worker were fastest. */
class ReversedExecutor implements ShardExecutor {
  constructor(private readonly computer: ShardComputer) {}
  async runPhase(plan: PhasePlan): Promise<void> {
    for (const name of ['D', 'G'] as const) this.computer.networks.load(name, plan.state.version(name), plan.state.weights(name));
    for (const task of [...plan.tasks].reverse()) {
      const r = this.computer.compute(task);
      expect(plan.accept(r)).toBe(true);
      expect(plan.accept(r)).toBe(false); // a duplicate is dropped
    }
  }

  takeStepStats() {
    return { bytesIn: 0, bytesOut: 0, shardsByWorker: {}, workers: 0, shardComputeMs: 0, workerCpuMs: 0 };
  }
}

/**
 * Replays the first result of the phase before last (the same phase, one step earlier) into that
 * phase's old plan before running the current one: the old plan's accumulator is the one in use.
 */
class StaleReplayExecutor implements ShardExecutor {
  private readonly done: { plan: PhasePlan; result: ShardResult }[] = [];
  readonly staleAccepted: boolean[] = [];
  constructor(private readonly inner: LocalExecutor) {}
  async runPhase(plan: PhasePlan): Promise<void> {
    const old = this.done.at(-2);
    if (old) {
      this.staleAccepted.push(old.plan.accept(old.result));
      expect(old.plan.isComplete()).toBe(true);
    }
    let first: ShardResult | undefined;
    await this.inner.runPhase({
      ...plan,
      accept: (r) => {
        first ??= r;
        return plan.accept(r);
      },
    });
    this.done.push({ plan, result: first! });
  }

  takeStepStats() {
    return this.inner.takeStepStats();
  }
}

describe('trainStep', () => {
  it('leaves tf.memory().numTensors unchanged', async () => {
    const config = makeRunConfig('seed', { batchSize: 16, shards: 2 });
    const state = new TrainingState(config);
    const computer = new ShardComputer(config, dataset);
    const executor = new LocalExecutor(computer);
    await trainStep(state, executor, dataset.count); // first step loads snapshots into variables
    const before = tf.memory().numTensors;
    const result = await trainStep(state, executor, dataset.count);
    expect(tf.memory().numTensors).toBe(before);
    expect(result.step).toBe(1);
    expect(Number.isFinite(result.d.loss) && Number.isFinite(result.g.loss)).toBe(true);
    computer.dispose();
  });

  it("plans the next step's D tasks during the G phase, at the G version that phase produces, as the next D phase plans them (none after the last step)", async () => {
    const config = makeRunConfig('tiny', { steps: 2, shards: 3 });
    const state = new TrainingState(config);
    const computer = new ShardComputer(config, dataset);
    const plans: { step: number; phase: string; tasks: readonly ShardTask[]; upcoming: readonly ShardTask[] | undefined }[] = [];
    const local = new LocalExecutor(computer);
    const recording: ShardExecutor = {
      runPhase: (plan) => {
        plans.push({ step: plan.step, phase: plan.phase, tasks: plan.tasks, upcoming: plan.upcoming });
        return local.runPhase(plan);
      },
      takeStepStats: () => local.takeStepStats(),
    };
    for (let s = 0; s < 2; s++) await trainStep(state, recording, dataset.count);
    computer.dispose();
    expect(plans.map((p) => `${p.step}${p.phase}:${p.upcoming?.length ?? 0}`)).toEqual(['0D:0', '0G:3', '1D:0', '1G:0']);
    expect(plans[1]!.upcoming).toEqual(plans[2]!.tasks);
    expect(plans[2]!.tasks.map((t) => [t.dVersion, t.gVersion])).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    expect(plans[1]!.tasks[0]!.gVersion).toBe(0); // the G phase itself ran at G@0
  });

  it('gives bit-identical weights whatever order shard results arrive in', async () => {
    const config = makeRunConfig('tiny', { steps: 3, shards: 4 });
    const hashes: string[] = [];
    for (const make of [(c: ShardComputer) => new LocalExecutor(c), (c: ShardComputer) => new ReversedExecutor(c)]) {
      const state = new TrainingState(config);
      const computer = new ShardComputer(config, dataset);
      const executor = make(computer);
      for (let s = 0; s < 3; s++) await trainStep(state, executor, dataset.count);
      hashes.push(state.hashes().weightsSha256);
      computer.dispose();
    }
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(hashes[1]).toBe(hashes[0]);
    expect(new TrainingState(config).hashes().weightsSha256).not.toBe(hashes[0]); // training moved the weights
  });

  it("ignores a finished phase's plan, whose accumulator the next phase reuses", async () => {
    const config = makeRunConfig('tiny', { steps: 3, shards: 2 });
    const plain = new TrainingState(config);
    const replayed = new TrainingState(config);
    const computer = new ShardComputer(config, dataset);
    const stale = new StaleReplayExecutor(new LocalExecutor(computer));
    for (let s = 0; s < 3; s++) {
      await trainStep(plain, new LocalExecutor(computer), dataset.count);
      await trainStep(replayed, stale, dataset.count);
    }
    expect(stale.staleAccepted).toHaveLength(4);
    expect(stale.staleAccepted.every((accepted) => !accepted)).toBe(true);
    expect(replayed.hashes()).toEqual(plain.hashes());
    computer.dispose();
  });

  it("keeps each network's weights and gradient sum in its Adam kernel's memory, and hands out copies in data()", async () => {
    const config = makeRunConfig('tiny', { shards: 2 });
    const state = new TrainingState(config);
    const computer = new ShardComputer(config, dataset);
    await trainStep(state, new LocalExecutor(computer), dataset.count);
    for (const name of ['D', 'G'] as const) {
      // One memory per network (WebAssembly SIMD on Node): Adam steps in place, with no copy in or out.
      expect(state.weights(name).buffer).toBe(state.gradientBuffer(name).buffer);
      expect(state.gradientBuffer(name).some((g) => g !== 0)).toBe(true); // the last phase's sum
    }
    expect(state.weights('D').buffer).not.toBe(state.weights('G').buffer);
    const data = state.data();
    expect(data.dWeights.buffer).not.toBe(state.weights('D').buffer);
    expect(Array.from(data.dWeights)).toEqual(Array.from(state.weights('D')));
    computer.dispose();
  });

  it('resumes from its state data to the same weights as an uninterrupted run', async () => {
    const config = makeRunConfig('tiny', { shards: 2 });
    const straight = new TrainingState(config);
    const c1 = new ShardComputer(config, dataset);
    for (let s = 0; s < 4; s++) await trainStep(straight, new LocalExecutor(c1), dataset.count);
    const first = new TrainingState(config);
    for (let s = 0; s < 2; s++) await trainStep(first, new LocalExecutor(c1), dataset.count);
    const resumed = new TrainingState(config, first.data());
    const c2 = new ShardComputer(config, dataset);
    for (let s = 0; s < 2; s++) await trainStep(resumed, new LocalExecutor(c2), dataset.count);
    expect(resumed.hashes()).toEqual(straight.hashes());
    c1.dispose();
    c2.dispose();
  });
});

describe("G's moving average", () => {
  it('follows G with the warm-up decay, in float32, and only when the config keeps one', () => {
    const tiny = makeRunConfig('tiny');
    // 15 hidden units: 12,679 parameters, so the average's four-at-a-time loop has a tail of 3.
    const generator = { ...tiny.model.generator, layers: [{ units: 15, activation: 'tanh' as const }, tiny.model.generator.layers[1]!] };
    const config = { ...tiny, model: { ...tiny.model, generator } };
    expect(config.gEmaDecay).toBe(0.9);
    const state = new TrainingState(config);
    expect(state.gWeights.length % 4).toBe(3);
    const expected = Float32Array.from(state.gWeights);
    for (let t = 1; t <= 4; t++) {
      state.apply(
        'G',
        Float64Array.from(state.gWeights, (_, i) => Math.sin(i + t)),
        1,
      );
      const decay = emaDecayAt(0.9, t);
      for (let i = 0; i < expected.length; i++) expected[i] = decay * expected[i]! + (1 - decay) * state.gWeights[i]!;
    }
    expect(emaDecayAt(0.9, 1)).toBeCloseTo(2 / 11, 12);
    expect(emaDecayAt(0.9, 1000)).toBe(0.9);
    // A warm-up constant of 2, counting updates from 0, makes it the plain mean of the start and every value.
    let mean = 0;
    for (let t = 0; t < 50; t++) mean = emaDecayAt(0.9999, t, 2) * mean + (1 - emaDecayAt(0.9999, t, 2)) * (t + 1);
    expect(mean).toBeCloseTo(1275 / 51, 9);
    expect(state.gEma).toEqual(expected);
    expect(state.sampleWeights()).toBe(state.gEma);
    expect(state.gEma).not.toEqual(state.gWeights);

    const plain = new TrainingState(makeRunConfig('seed'));
    expect(plain.gEma).toBeNull();
    expect(plain.sampleWeights()).toBe(plain.gWeights);
    expect(plain.hashes().gEmaSha256).toBeNull();
    expect(() => new TrainingState(config, { ...state.data(), gEma: null })).toThrow(/lacks a G moving average but the config keeps one/);
    expect(() => validateRunConfig({ ...config, gEmaDecay: 1 })).toThrow(/gEmaDecay must be null or in \[0, 1\), got 1/);
  });
});

describe('run config and samples', () => {
  it('rejects impossible configs with a message naming the field', () => {
    expect(() => makeRunConfig('seed', { shards: 200 })).toThrow(/shards \(200\) cannot exceed the batch size \(128\)/);
    expect(() => makeRunConfig('seed', { batchSize: 0 })).toThrow(/batch size must be an integer/);
    expect(makeRunConfig('seed').steps).toBe(50);
  });
});
