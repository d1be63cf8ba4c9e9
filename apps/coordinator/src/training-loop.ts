import { CpuClock } from '@distgan/runtime';
import { PhaseAbortedError, trainStep, type RunConfig, type ShardExecutor, type StepResult, type TrainingState } from '@distgan/training';
import type { RunOutputs } from './run-outputs.js';
import type { StateHistory } from './state-history.js';
import { RewindRequest, type VerifiedStepStats } from './verification.js';

export interface LoopOptions {
  readonly config: RunConfig;
  readonly datasetSize: number;
  /** A checkpoint every N steps (0: none on the way). */
  readonly checkpointEvery: number;
  /** Train all steps even when the preset's stop rule is met. */
  readonly ignoreStopRule: boolean;
  /** True once a stop was asked for (a signal): the step in flight finishes, no new one starts. */
  readonly stopRequested: () => boolean;
  readonly log: (message: string) => void;
  /** `--verify`: recent states to return to, kept at step starts. */
  readonly history?: StateHistory;
  /** Returns the state to the start of `toStep` (or before) when the executor asks (`RewindRequest`). */
  readonly rewind?: (toStep: number) => Promise<void>;
}

export interface LoopEnd {
  /** The preset's stop rule ended the run. */
  readonly stoppedEarly: boolean;
  /** The phase a stop with no worker connected cut short (its step is not complete), if one did. */
  readonly abortedPhase: 'D' | 'G' | null;
}

/**
 * Trains from the state's next step to the run's end, a stop request, the stop rule, or a phase
 * cut short. Pipelined: the next step's first phase goes out before this step's bookkeeping
 * (metrics, probe, samples, evaluation), which then runs while the workers compute. The
 * bookkeeping reads the state synchronously and the next step changes it only once its first
 * phase's results are in, so the outputs describe the step they are labelled with. Not when the
 * stop rule could end the run here, or a checkpoint (which awaits) is due.
 */
export async function trainToEnd(
  state: TrainingState,
  executor: ShardExecutor<VerifiedStepStats>,
  outputs: RunOutputs,
  options: LoopOptions,
): Promise<LoopEnd> {
  const { config } = options;
  const rule = options.ignoreStopRule ? null : config.stopRule;
  const moreSteps = () => state.nextStep < config.steps && !options.stopRequested();
  const startStep = () => {
    options.history?.record(state);
    const started = performance.now(); // before: in-process, trainStep computes its first phase before returning
    const done = trainStep(state, executor, options.datasetSize);
    // Awaited at the top of the loop; this keeps a failure during the last step's bookkeeping
    // from also being reported as an unhandled rejection of the step in flight.
    done.catch(() => undefined);
    return { started, done };
  };
  outputs.begin(state.nextStep);
  let running = moreSteps() ? startStep() : null;
  const cpuClock = new CpuClock();
  while (running) {
    let result: StepResult;
    try {
      result = await running.done;
    } catch (err) {
      if (err instanceof PhaseAbortedError) return { stoppedEarly: false, abortedPhase: err.phase };
      if (!(err instanceof RewindRequest && options.rewind)) throw err;
      await options.rewind(err.toStep);
      running = moreSteps() ? startStep() : null;
      continue;
    }
    const stepMs = performance.now() - running.started;
    const coordinatorCpuMs = cpuClock.lap();
    const wire = executor.takeStepStats();
    const checkpointDue = options.checkpointEvery > 0 && state.nextStep % options.checkpointEvery === 0;
    running = !rule && !checkpointDue && moreSteps() ? startStep() : null;
    const probe = outputs.recordStep(state, result, stepMs, coordinatorCpuMs, wire);
    if (checkpointDue) await outputs.checkpoint(state);
    if (rule && probe && probe.dFake > rule.dFakeMin && probe.dFake < rule.dFakeMax && result.step > rule.afterStep) {
      outputs.interruptProgress();
      options.log(`stop rule met at step ${result.step}: ${rule.dFakeMin} < D(G(z)) = ${probe.dFake.toFixed(4)} < ${rule.dFakeMax}`);
      return { stoppedEarly: true, abortedPhase: null };
    }
    running ??= moreSteps() ? startStep() : null;
  }
  return { stoppedEarly: false, abortedPhase: null };
}
