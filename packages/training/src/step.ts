import { MAX_MEAN_GRADIENT } from '@distgan/optim';
import { firstOutOfRange } from '@distgan/protocol';
import { batchIndices, shardRange, type Phase } from './batch.js';
import type { ShardStats, ShardTask } from './shard.js';
import type { TrainingState } from './state.js';
import type { ShardExecutor } from './executor.js';

/**
 * A phase's summed gradient that Adam must not take (NaN, infinite, or large enough to overflow
 * its state): the step is not applied, and the state stays as it was before the phase.
 */
export class UnusableGradientError extends Error {
  override readonly name = 'UnusableGradientError';
  constructor(
    readonly step: number,
    readonly phase: Phase,
    readonly index: number,
    readonly value: number,
  ) {
    super(
      `step ${step}, ${phase} phase: the batch-mean gradient of ${phase} is ${value} at parameter ${index} ` +
        `(NaN, infinite or beyond ${MAX_MEAN_GRADIENT.toExponential(2)}): the step was not applied. ` +
        'The training has diverged or a shard computer miscomputes; the last checkpoint holds the state before it',
    );
  }
}

export interface PhaseStats {
  /** Batch-mean loss (the tutorial's D_obj or G_obj). */
  readonly loss: number;
  readonly dReal: number;
  readonly dFake: number;
}

export interface StepResult {
  readonly step: number;
  readonly d: PhaseStats;
  readonly g: PhaseStats;
}

/** The tasks of one phase: K fixed logical shards, with real indices for the D phase. */
export function planTasks(state: TrainingState, step: number, phase: Phase, datasetSize: number): ShardTask[] {
  const { batchSize, shards, seed } = state.config;
  const indices = phase === 'D' ? batchIndices(seed, step, batchSize, datasetSize) : null;
  return Array.from({ length: shards }, (_, shard) => {
    const { start, count } = shardRange(batchSize, shards, shard);
    return {
      step,
      phase,
      shard,
      start,
      count,
      dVersion: state.version('D'),
      gVersion: state.version('G'),
      indices: indices ? indices.slice(start, start + count) : null,
    };
  });
}

/**
 * The tasks an executor may hand out ahead during `phase` (`PhasePlan.upcoming`): during a G
 * phase, the next step's D tasks at the G version this phase will produce; none otherwise or
 * after the last step.
 */
export function planUpcoming(state: TrainingState, step: number, phase: Phase, datasetSize: number): ShardTask[] {
  if (phase !== 'G' || step + 1 >= state.config.steps) return [];
  return planTasks(state, step + 1, 'D', datasetSize).map((t) => ({ ...t, gVersion: t.gVersion + 1 }));
}

async function runPhase(state: TrainingState, executor: ShardExecutor, step: number, phase: Phase, datasetSize: number): Promise<PhaseStats> {
  const { batchSize, shards } = state.config;
  const sum = state.gradientSum(phase);
  let lossSum = 0;
  let dRealSum = 0;
  let dFakeSum = 0;
  const tasks = planTasks(state, step, phase, datasetSize);
  // Only the statistics are kept: the gradients are already folded into (or waiting in) `sum`.
  const statsByShard: (ShardStats | undefined)[] = new Array(shards);
  let closed = false;
  const phaseDone = executor.runPhase({
    step,
    phase,
    tasks,
    upcoming: planUpcoming(state, step, phase, datasetSize),
    state,
    accept: (result) => {
      // The accumulator is reused by the next phase: once this one is over, its plan takes nothing.
      if (closed || result.step !== step || result.phase !== phase) return false;
      if (!sum.add(result.shard, result.gradient)) return false;
      statsByShard[result.shard] = { lossSum: result.lossSum, dRealSum: result.dRealSum, dFakeSum: result.dFakeSum };
      return true;
    },
    isComplete: () => closed || sum.complete,
  });
  state.updateAverage(); // while remote workers compute: off the path between phases
  try {
    await phaseDone;
  } finally {
    closed = true;
  }
  if (!sum.complete) throw new Error(`executor finished ${phase} phase of step ${step} without every shard`);
  // Statistics too are summed in shard order, so even the logged numbers are reproducible (every shard's are in: `sum.complete`).
  for (const r of statsByShard as ShardStats[]) {
    lossSum += r.lossSum;
    dRealSum += r.dRealSum;
    dFakeSum += r.dFakeSum;
  }
  const total = sum.total();
  // A mean past MAX_MEAN_GRADIENT would overflow Adam's float32 moments (NaN and infinity fail too).
  const bad = firstOutOfRange(total, MAX_MEAN_GRADIENT * batchSize);
  if (bad >= 0) throw new UnusableGradientError(step, phase, bad, total[bad]! / batchSize);
  state.apply(phase, total, batchSize);
  return { loss: lossSum / batchSize, dReal: dRealSum / batchSize, dFake: dFakeSum / batchSize };
}

/** One training step: a D phase, then a G phase at the new D, as in the tutorial. */
export async function trainStep(state: TrainingState, executor: ShardExecutor, datasetSize: number): Promise<StepResult> {
  const step = state.nextStep;
  // A state that stopped between the phases (a checkpoint of a stop during a G phase) has D's step taken.
  const d = state.dPhase ?? (await runPhase(state, executor, step, 'D', datasetSize));
  state.dPhase = d;
  const g = await runPhase(state, executor, step, 'G', datasetSize);
  state.dPhase = undefined;
  state.nextStep = step + 1;
  return { step, d, g };
}
