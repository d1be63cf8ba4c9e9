import { loadMnist } from '@distgan/mnist';
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
} from './index.js';

const dataset = loadMnist();
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
