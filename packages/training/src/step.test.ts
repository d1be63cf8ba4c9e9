import * as tf from '@tensorflow/tfjs';
import { MAX_MEAN_GRADIENT } from '@distgan/optim';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LocalExecutor,
  makeRunConfig,
  ShardComputer,
  trainStep,
  TrainingState,
  UnusableGradientError,
  type PhasePlan,
  type ShardExecutor,
  type ShardResult,
  planTasks,
  planUpcoming,
  type ShardTask,
} from './index.js';
import { dataset } from './test-support/shard-checks.js';

beforeAll(async () => {
  await selectBackend();
});

const config = makeRunConfig('tiny', { steps: 4 });

/** The local executor, with `alter` applied to each phase's plan first. */
function executor(computer: ShardComputer, alter: (plan: PhasePlan) => PhasePlan): ShardExecutor {
  const local = new LocalExecutor(computer);
  return { runPhase: (plan) => local.runPhase(alter(plan)), takeStepStats: () => local.takeStepStats() };
}

describe('trainStep', () => {
  it('does not apply a phase whose mean gradient Adam cannot take, and says which step, phase and parameter', async () => {
    const computer = new ShardComputer(config, dataset, { log: () => {} });
    for (const [phase, value, at] of [
      ['D', 3e38, 0],
      ['G', Number.NaN, 5],
    ] as const) {
      const state = new TrainingState(config);
      await trainStep(state, new LocalExecutor(computer), dataset.count);
      const before = state.hashes();
      const versions = [state.version('D'), state.version('G')];
      // One shard's gradient holds one bad value (3e38 is finite: the sum is finite, its square is not).
      const poisoned = executor(computer, (plan) =>
        plan.phase !== phase
          ? plan
          : {
              ...plan,
              accept: (result) => {
                const gradient = Float32Array.from(result.gradient);
                if (result.shard === 1) gradient[at] = value;
                return plan.accept({ ...result, gradient });
              },
            },
      );
      const failed = trainStep(state, poisoned, dataset.count);
      await expect(failed).rejects.toThrow(UnusableGradientError);
      await expect(failed).rejects.toThrow(
        new RegExp(`step 1, ${phase} phase: the batch-mean gradient of ${phase} is .* at parameter ${at} .*the step was not applied`),
      );
      const error = (await failed.catch((e: unknown) => e)) as UnusableGradientError;
      expect([error.step, error.phase, error.index]).toEqual([1, phase, at]);
      // The value reported is the batch mean, the sum over the batch size.
      if (phase === 'D') expect(error.value / (3e38 / config.batchSize)).toBeCloseTo(1, 5);
      else expect(error.value).toBeNaN();
      if (phase === 'D') expect(state.hashes()).toEqual(before);
      else expect(state.hashes().gSha256).toBe(before.gSha256); // D's half of the step is in, G's is not
      expect(state.version('G')).toBe(versions[1]);
    }
    computer.dispose();
  });

  it('applies a phase whose gradient sum is beyond the bound while its batch mean is within it', async () => {
    const computer = new ShardComputer(config, dataset, { log: () => {} });
    const state = new TrainingState(config);
    // A sum of MAX_MEAN_GRADIENT is a batch mean of MAX_MEAN_GRADIENT / batchSize: Adam takes it.
    const large = executor(computer, (plan) => ({
      ...plan,
      accept: (result) => {
        const gradient = Float32Array.from(result.gradient);
        if (result.shard === 0) gradient[3] = MAX_MEAN_GRADIENT;
        return plan.accept({ ...result, gradient });
      },
    }));
    await trainStep(state, large, dataset.count);
    expect([state.nextStep, state.version('D'), state.version('G')]).toEqual([1, 1, 1]);
    expect(Number.isFinite(state.dWeights[3]) && Number.isFinite(state.gWeights[3])).toBe(true);
    computer.dispose();
  });

  it('continues a state stopped between the phases of a step to the bits of an uninterrupted run', async () => {
    const computer = new ShardComputer(config, dataset, { log: () => {} });
    const straight = new TrainingState(config);
    for (let s = 0; s < 3; s++) await trainStep(straight, new LocalExecutor(computer), dataset.count);

    const stopped = new TrainingState(config);
    await trainStep(stopped, new LocalExecutor(computer), dataset.count);
    const stopInG = executor(computer, (plan) => {
      if (plan.phase === 'G') throw new Error('stopped');
      return plan;
    });
    await expect(trainStep(stopped, stopInG, dataset.count)).rejects.toThrow('stopped');
    expect([stopped.nextStep, stopped.version('D'), stopped.version('G')]).toEqual([1, 2, 1]);
    const data = stopped.data();
    expect(data.dPhase).toEqual(stopped.dPhase);
    expect(Number.isFinite(data.dPhase?.loss)).toBe(true);

    const resumed = new TrainingState(config, data);
    const first = await trainStep(resumed, new LocalExecutor(computer), dataset.count);
    expect(first.step).toBe(1);
    expect(first.d).toEqual(data.dPhase);
    await trainStep(resumed, new LocalExecutor(computer), dataset.count);
    expect(resumed.hashes()).toEqual(straight.hashes());
    expect(() => new TrainingState(config, { ...data, dPhase: undefined })).toThrow(/Adam steps D 2 \/ G 1 without a D phase's statistics/);
    computer.dispose();
  });

  it("takes only its own phase's results, none once the phase is over, and names a phase left incomplete", async () => {
    const computer = new ShardComputer(config, dataset, { log: () => {} });
    const state = new TrainingState(config);
    const local = new LocalExecutor(computer);
    const plans: PhasePlan[] = [];
    const firsts: ShardResult[] = [];
    const verdicts: boolean[] = [];
    const checking: ShardExecutor = {
      runPhase: async (plan) => {
        plans.push(plan);
        for (const name of ['D', 'G'] as const) computer.networks.load(name, plan.state.version(name), plan.state.weights(name));
        const first = computer.compute(plan.tasks[0]!);
        firsts.push(first);
        verdicts.push(plan.accept({ ...first, step: first.step + 1 }), plan.accept({ ...first, phase: first.phase === 'D' ? 'G' : 'D' }));
        expect(plan.isComplete()).toBe(false);
        await local.runPhase(plan);
        expect(plan.isComplete()).toBe(true);
      },
      takeStepStats: () => local.takeStepStats(),
    };
    await trainStep(state, checking, dataset.count);
    expect(verdicts).toEqual([false, false, false, false]);
    // The D phase's plan, reused accumulator and all, takes nothing after its phase ended.
    const [dPlan] = plans;
    expect(dPlan!.accept(firsts[0]!)).toBe(false);
    expect(dPlan!.isComplete()).toBe(true);
    const lazy: ShardExecutor = { runPhase: async () => undefined, takeStepStats: () => local.takeStepStats() };
    await expect(trainStep(state, lazy, dataset.count)).rejects.toThrow('executor finished D phase of step 1 without every shard');
    computer.dispose();
  });

  it('names its error UnusableGradientError and says where the state before it is', () => {
    const err = new UnusableGradientError(3, 'G', 7, Number.NaN);
    expect(err.name).toBe('UnusableGradientError');
    expect(err.message).toMatch(/^step 3, G phase: the batch-mean gradient of G is NaN at parameter 7 .*the last checkpoint holds the state before it$/);
  });

  it("reports each phase's batch means of the loss and D's scores: the shards' sums in shard order over the batch", async () => {
    const computer = new ShardComputer(config, dataset, { log: () => {} });
    const state = new TrainingState(config);
    const accepted: ShardResult[] = [];
    const recording = executor(computer, (plan) => ({
      ...plan,
      accept: (r) => {
        accepted.push(r);
        return plan.accept(r);
      },
    }));
    const result = await trainStep(state, recording, dataset.count);
    const mean = (phase: 'D' | 'G', key: 'lossSum' | 'dRealSum' | 'dFakeSum') =>
      accepted
        .filter((r) => r.phase === phase)
        .sort((a, b) => a.shard - b.shard)
        .reduce((sum, r) => sum + r[key], 0) / config.batchSize;
    expect(result.d).toEqual({ loss: mean('D', 'lossSum'), dReal: mean('D', 'dRealSum'), dFake: mean('D', 'dFakeSum') });
    expect(result.g).toEqual({ loss: mean('G', 'lossSum'), dReal: mean('G', 'dRealSum'), dFake: mean('G', 'dFakeSum') });
    expect(result.d.loss).toBeGreaterThan(0);
    expect(result.d.dReal).toBeGreaterThan(0);
    computer.dispose();
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
