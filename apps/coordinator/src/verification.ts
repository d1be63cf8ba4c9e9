import { createHash, createHmac } from 'node:crypto';
import type { Evidence } from '@distgan/run-store';
import type { ExecutorStepStats, ShardComputer, ShardResult, ShardTask, TrainingState } from '@distgan/training';

/**
 * Verified training: a fraction of results is computed again by the coordinator itself and
 * compared bit for bit (a shard's result depends on the task alone, so an honest worker on the
 * coordinator's backend returns exactly the same bits). Which tasks: a keyed hash of (step,
 * phase, shard) below the fraction, unpredictable to workers without the run's key and the same
 * for the run on every resume. A worker caught returning other bits is convicted: set aside, every
 * later result of its checked, and its unverified results undone (the loop returns to the state
 * before the first of them, `VerificationLedger.convict`).
 */
export function chosenForVerification(key: Buffer, fraction: number, task: Pick<ShardTask, 'step' | 'phase' | 'shard'>): boolean {
  if (fraction <= 0) return false;
  if (fraction >= 1) return true;
  const digest = createHmac('sha256', key).update(`${task.step}/${task.phase}/${task.shard}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32 < fraction;
}

/** SHA-256 of a result's gradient bytes and statistics: the evidence logged for a mismatch. */
export function resultSha256(result: Pick<ShardResult, 'gradient' | 'lossSum' | 'dRealSum' | 'dFakeSum'>): string {
  const stats = Float64Array.of(result.lossSum, result.dRealSum, result.dFakeSum);
  return createHash('sha256')
    .update(new Uint8Array(result.gradient.buffer, result.gradient.byteOffset, result.gradient.byteLength))
    .update(new Uint8Array(stats.buffer))
    .digest('hex');
}

/** Whether two results are the same bits (gradient and statistics). */
export function sameResult(a: Pick<ShardResult, 'gradient' | 'lossSum' | 'dRealSum' | 'dFakeSum'>, b: typeof a): boolean {
  if (!(Object.is(a.lossSum, b.lossSum) && Object.is(a.dRealSum, b.dRealSum) && Object.is(a.dFakeSum, b.dFakeSum))) return false;
  const x = new Uint8Array(a.gradient.buffer, a.gradient.byteOffset, a.gradient.byteLength);
  const y = new Uint8Array(b.gradient.buffer, b.gradient.byteOffset, b.gradient.byteLength);
  return Buffer.compare(x, y) === 0;
}

/**
 * Per worker identity: whether it was caught, and the earliest step at which a result of its was
 * accepted without verification (what a conviction undoes).
 */
export class VerificationLedger {
  private readonly firstUnverified = new Map<string, number>();
  private readonly convicted = new Set<string>();

  /** Every result of a convicted worker is checked. */
  isConvicted(identity: string): boolean {
    return this.convicted.has(identity);
  }

  accepted(identity: string, step: number, verified: boolean): void {
    if (!verified && !this.firstUnverified.has(identity)) this.firstUnverified.set(identity, step);
  }

  /** Convicts `identity`; returns the step whose start to return to (undefined: nothing of its is unverified). */
  convict(identity: string): number | undefined {
    this.convicted.add(identity);
    const step = this.firstUnverified.get(identity);
    this.firstUnverified.delete(identity);
    return step;
  }

  /** The run went back to the start of `step`: results accepted from then on are undone. */
  rewound(step: number): void {
    for (const [identity, first] of this.firstUnverified) if (first >= step) this.firstUnverified.delete(identity);
  }
}

/**
 * Computes tasks in the coordinator, at the training state's current snapshots: the referee that
 * checks workers' results. Loads a network only when its version changed since the last check.
 */
export class Referee {
  /** The versions loaded since the last `forget()`: after a return to an earlier step, a version number comes back with other weights. */
  private loaded: Record<'D' | 'G', number> = { D: -1, G: -1 };

  constructor(private readonly computer: ShardComputer) {}

  compute(state: TrainingState, task: ShardTask): ShardResult {
    for (const name of ['D', 'G'] as const) {
      const version = state.version(name);
      if (this.loaded[name] !== version) {
        this.computer.networks.load(name, version, state.weights(name));
        this.loaded[name] = version;
      }
    }
    return this.computer.compute(task);
  }

  /** The run returned to an earlier step: load every network again at the next check. */
  forget(): void {
    this.loaded = { D: -1, G: -1 };
  }

  dispose(): void {
    this.computer.dispose();
  }
}

export type CheckOutcome =
  | { readonly kind: 'unchecked' }
  | { readonly kind: 'verified' }
  /** The worker's result differs from the coordinator's twice-computed one: `result` is the right one. */
  | { readonly kind: 'wrong'; readonly result: ShardResult; readonly evidence: Evidence; readonly rewindTo: number | undefined }
  /** The coordinator computed the task twice with different bits: it cannot referee. */
  | { readonly kind: 'refereeInconsistent'; readonly task: string };

/** A step's statistics from an executor whose results may be checked (`--verify`). */
export interface VerifiedStepStats extends ExecutorStepStats {
  /** Results the coordinator computed again to check them. */
  readonly verified?: number;
  /** Wrong results caught, with their evidence. */
  readonly caught?: readonly Evidence[];
}

/** Asked to return to the start of `toStep` and compute again from there without a convicted worker's results. */
export class RewindRequest extends Error {
  override readonly name = 'RewindRequest';
  constructor(
    readonly toStep: number,
    readonly evidence: Evidence,
  ) {
    super(`return to step ${toStep}: worker ${evidence.worker} returned a wrong result for ${evidence.step}/${evidence.phase}/${evidence.shard}`);
  }
}

export interface ResultCheckerOptions {
  /** The share of tasks checked, in [0, 1]. */
  readonly fraction: number;
  /** The run's verification key (config.json): which tasks, unpredictably for workers. */
  readonly key: Buffer;
  readonly referee: Referee;
  /** The coordinator's backend: only workers computing on it give comparable bits. */
  readonly backend: string;
}

/** The pool's side of verified training: which results to check, the check, and the ledger. */
export class ResultChecker {
  readonly ledger = new VerificationLedger();
  /** Results checked since the last `takeVerified()`. */
  private verified = 0;

  constructor(private readonly options: ResultCheckerOptions) {}

  /** Whether a worker on `backend` can be checked by this coordinator (the same backend computes the same bits). */
  canCheck(backend: string): boolean {
    return backend === this.options.backend;
  }

  check(
    state: TrainingState,
    task: ShardTask,
    result: ShardResult,
    worker: { readonly identity: string; readonly label: string; readonly backend: string },
  ): CheckOutcome {
    if (!this.canCheck(worker.backend)) return { kind: 'unchecked' };
    if (!this.ledger.isConvicted(worker.identity) && !chosenForVerification(this.options.key, this.options.fraction, task)) return { kind: 'unchecked' };
    this.verified++;
    const own = this.options.referee.compute(state, task);
    if (sameResult(own, result)) return { kind: 'verified' };
    // A second computation settles it: the coordinator's own bits must repeat before a worker is blamed.
    const again = this.options.referee.compute(state, task);
    if (!sameResult(again, own)) return { kind: 'refereeInconsistent', task: `${task.step}/${task.phase}/${task.shard}` };
    const evidence: Evidence = {
      worker: worker.label,
      step: task.step,
      phase: task.phase,
      shard: task.shard,
      workerSha256: resultSha256(result),
      coordinatorSha256: resultSha256(own),
    };
    return { kind: 'wrong', result: own, evidence, rewindTo: this.ledger.convict(worker.identity) };
  }

  /** The run returned to an earlier step (see `Referee.forget`). */
  rewound(step: number): void {
    this.ledger.rewound(step);
    this.options.referee.forget();
  }

  takeVerified(): number {
    const n = this.verified;
    this.verified = 0;
    return n;
  }

  dispose(): void {
    this.options.referee.dispose();
  }
}
