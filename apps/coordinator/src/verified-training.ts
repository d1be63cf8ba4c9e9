import { parameterCount, parameterSpec } from '@distgan/models';
import type { MnistDataset } from '@distgan/mnist';
import { ShardComputer, TrainingState, type RunConfig } from '@distgan/training';
import type { RunOutputs } from './run-outputs.js';
import { StateHistory } from './state-history.js';
import { Referee, ResultChecker } from './verification.js';
import type { WorkerPool } from './worker-pool.js';
import type { CheckpointStore, RunDirectory } from '@distgan/run-store';

/** Memory the recent states may take: at most 256 MB (about 20 states of the seed model). */
const HISTORY_BUDGET_BYTES = 256 * 2 ** 20;
/** A state is kept at the start of every 25th step. */
const HISTORY_EVERY = 25;

export interface VerificationSetup {
  readonly fraction: number;
  readonly key: Buffer;
  readonly config: RunConfig;
  readonly dataset: MnistDataset;
  /** The coordinator's backend: the referee computes on it. */
  readonly backend: string;
  readonly log: (message: string) => void;
}

/** The bytes one kept state takes: weights and both Adam moments of D and G, and G's average. */
function stateBytes(config: RunConfig): number {
  const d = parameterCount(parameterSpec(config.model.discriminator));
  const g = parameterCount(parameterSpec(config.model.generator));
  return 4 * (3 * (d + g) + (config.gEmaDecay === null ? 0 : g));
}

/**
 * `--verify`'s parts: the checker the pool consults, the recent states, and the return to an
 * earlier step when a caught worker's unchecked results must be undone.
 */
export class VerifiedTraining {
  readonly checker: ResultChecker;
  readonly history: StateHistory;

  constructor(private readonly setup: VerificationSetup) {
    const referee = new Referee(new ShardComputer(setup.config, setup.dataset, { log: setup.log }));
    this.checker = new ResultChecker({ fraction: setup.fraction, key: setup.key, referee, backend: setup.backend });
    this.history = new StateHistory(HISTORY_EVERY, StateHistory.keepFor(stateBytes(setup.config), HISTORY_BUDGET_BYTES));
  }

  /**
   * Returns `state` to the start of `toStep` or before it: the newest kept state, else the newest
   * checkpoint at or before it, else the initial weights. What was recorded after that point
   * (metrics lines, checkpoints) goes, and every worker reconnects with a clean slate.
   */
  rewind(toStep: number, state: TrainingState, run: { outputs: RunOutputs; checkpoints: CheckpointStore; runDir: RunDirectory; pool: WorkerPool }): void {
    const kept = this.history.atOrBefore(toStep);
    const checkpoint = kept ? null : run.checkpoints.loadAtOrBefore(toStep, this.setup.log);
    const data = kept ?? checkpoint?.data ?? new TrainingState(this.setup.config).data();
    const where = kept ? 'a state kept in memory' : checkpoint ? run.runDir.display(checkpoint.file) : 'the initial weights';
    state.restore(data);
    this.history.dropAfter(data.nextStep);
    run.outputs.rewind(data.nextStep);
    this.checker.rewound(data.nextStep);
    run.pool.reconnectAll(`the run returns to step ${data.nextStep}`);
    this.setup.log(`returned to step ${data.nextStep} (${where}): computing again from there without the wrong results`);
  }

  dispose(): void {
    this.checker.dispose();
  }
}
