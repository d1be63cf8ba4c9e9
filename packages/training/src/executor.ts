import type { Phase } from './batch.js';
import type { ShardResult, ShardTask } from './shard.js';
import type { TrainingState } from './state.js';

/**
 * Runs a phase's shard tasks somewhere (in this process, or on remote workers) and counts what
 * that cost: the contract between the training loop and whatever computes the shards. `Stats`:
 * what it counts per step beyond `ExecutorStepStats`.
 */
export interface ShardExecutor<Stats extends ExecutorStepStats = ExecutorStepStats> {
  /**
   * Computes every task at the state's current snapshots and calls `accept` once per result; may
   * call it with duplicates, which are ignored. Resolves when `isComplete()` says all are in.
   * Rejects with a `PhaseAbortedError` when the run is stopping and the phase cannot finish.
   */
  runPhase(phase: PhasePlan): Promise<void>;
  /** What the executor counted since the last call (one step's worth when called once a step). */
  takeStepStats(): Stats;
}

export interface PhasePlan {
  readonly step: number;
  readonly phase: Phase;
  readonly tasks: readonly ShardTask[];
  readonly state: TrainingState;
  /**
   * Tasks of the next phase that an executor may hand out ahead, once this phase's are all out:
   * the next step's D tasks during a G phase (none after the last step). They name the snapshot
   * versions they need, and G's is the one this phase will produce, so a worker can compute only
   * their real images' share (`ShardComputer.computeRealShare`) until G's snapshot arrives. The
   * next phase's plan lists the same tasks again.
   */
  readonly upcoming?: readonly ShardTask[];
  /** Returns false for a result that was not needed (duplicate); throws for an invalid one. */
  readonly accept: (result: ShardResult) => boolean;
  readonly isComplete: () => boolean;
}

/** What computing a step's shards cost, as an executor counted it (a line of metrics.jsonl holds it). */
export interface ExecutorStepStats {
  /** Bytes received from and sent to workers (0 in process). */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Accepted results by who computed them (`in-process` for the local executor). */
  readonly shardsByWorker: Record<string, number>;
  /** Workers connected (0 in process). */
  readonly workers: number;
  /** The accepted results' compute times, summed. */
  readonly shardComputeMs: number;
  /** CPU time the workers' results reported, summed (0 in process: the coordinator's own CPU time is counted apart). */
  readonly workerCpuMs: number;
}

/** A phase ended without its results because the run is stopping: its step is not complete. */
export class PhaseAbortedError extends Error {
  override readonly name = 'PhaseAbortedError';
  constructor(
    readonly phase: Phase,
    reason: string,
  ) {
    super(`${phase} phase stopped: ${reason}`);
  }
}
