import { protocolError, type ErrorMessage, type ProtocolError, type ResultMessage } from '@distgan/protocol';
import type { Trace } from '@distgan/runtime';
import { PhaseAbortedError, type PhasePlan, type ShardTask } from '@distgan/training';
import { printable } from './log-text.js';
import type { PoolCounters } from './pool-counters.js';
import { identityOf, type WorkerStatus } from './pool-options.js';
import { workerStatuses } from './pool-status.js';
import { Scheduler, taskKey, type Assignment } from './scheduler.js';
import { failedTaskKey, TaskFailures } from './task-failures.js';
import { RewindRequest, type CheckOutcome, type ResultChecker } from './verification.js';
import type { WorkerConnection } from './worker-connection.js';

/** What the runner reads and counts of a connection (a `WorkerConnection`, or a test's stand-in). */
export type RunnerConnection = Pick<WorkerConnection, 'id' | 'label' | 'info' | 'state' | 'shardsDone' | 'computeMs'>;

export interface PhaseRunnerOptions<C extends RunnerConnection = WorkerConnection> {
  readonly maxInFlight: number;
  readonly taskTimeoutMs: number;
  readonly strikesToSetAside: number;
  readonly failuresToStop: number;
  readonly failuresToSetAside: number;
  readonly checker: ResultChecker | null;
  readonly counters: PoolCounters;
  readonly log: (message: string) => void;
  readonly trace: Trace;
  /** The ready connection of a worker id. */
  readonly connection: (id: string) => C | undefined;
  /** The ready connections. */
  readonly ready: () => C[];
  /** Sends `connection` the snapshots `task` needs (and, with `withTask`, the task itself). */
  readonly deliver: (connection: C, plan: PhasePlan, task: ShardTask, withTask: boolean) => void;
  /** Closes a connection that broke the protocol. */
  readonly violation: (connection: C, err: ProtocolError) => void;
}

/**
 * One phase at a time over the ready workers: hands its tasks out as `Scheduler` decides, takes
 * their results in (once per shard, late ones dropped), checks them under `--verify`, and applies
 * the failure rules (`TaskFailures`, a convicted worker set aside). Knows connections, not sockets:
 * the pool turns frames into these calls and these decisions into frames.
 */
export class PhaseRunner<C extends RunnerConnection = WorkerConnection> {
  private readonly scheduler: Scheduler;
  private readonly failures: TaskFailures;
  private plan: PhasePlan | null = null;
  private settled: { readonly resolve: () => void; readonly reject: (err: Error) => void } | null = null;
  /** Set by `abort` between phases: the next phase ends at once unless a worker is ready. */
  private abortReason: string | null = null;
  /** Why each set-aside connection was set aside, for the dashboard. */
  private readonly setAsideReasons = new Map<string, string>();

  constructor(private readonly opts: PhaseRunnerOptions<C>) {
    this.failures = new TaskFailures(opts);
    this.scheduler = new Scheduler(opts);
  }

  /** The phase in progress, or null between phases. */
  get current(): PhasePlan | null {
    return this.plan;
  }

  run(plan: PhasePlan): Promise<void> {
    this.opts.trace('phaseStart', { step: plan.step, phase: plan.phase });
    if (this.abortReason !== null && this.opts.ready().length === 0) return Promise.reject(new PhaseAbortedError(plan.phase, this.abortReason));
    return new Promise((resolve, reject) => {
      this.plan = plan;
      this.settled = { resolve, reject };
      this.failures.startPhase();
      for (const held of this.scheduler.startPhase(plan.tasks, plan.upcoming ?? [], Date.now())) {
        const connection = this.opts.connection(held.worker);
        if (connection) this.opts.deliver(connection, plan, held.task, false);
      }
      this.dispatch();
      this.opts.trace('dispatched', { step: plan.step, phase: plan.phase });
    });
  }

  /**
   * Ends the phase in progress without its results (a `PhaseAbortedError`), or, between phases,
   * the next one as soon as it starts with no worker ready: the run is stopping.
   */
  abort(reason: string): void {
    const plan = this.plan;
    if (plan) this.settle(new PhaseAbortedError(plan.phase, reason));
    else this.abortReason = reason;
  }

  /** Ends the phase in progress: resolved when complete, rejected when the run cannot go on. */
  private settle(error?: Error): void {
    const settled = this.settled;
    this.plan = null;
    this.settled = null;
    this.scheduler.endPhase();
    if (error) settled?.reject(error);
    else settled?.resolve();
  }

  /** `connection` finished its handshake: it may take tasks, set aside if it failed or was caught before. */
  joined(connection: C): void {
    this.scheduler.join(connection.id);
    // Reconnecting does not put a worker that failed or was caught ahead of the others.
    if (this.failures.isSetAside(identityOf(connection))) this.setAside(connection, 'it failed its tasks in a row when connected before');
    else if (this.opts.checker?.ledger.isConvicted(identityOf(connection))) this.setAside(connection, 'it returned a wrong result when connected before');
    this.dispatch();
  }

  /** `connection` is gone: its tasks go back to the queue. Returns how many. */
  left(connection: C): number {
    const lost = this.scheduler.leave(connection.id);
    this.opts.counters.reassigned(lost.length);
    this.setAsideReasons.delete(connection.id);
    this.dispatch();
    return lost.length;
  }

  /**
   * A task failure a worker reported (`WORKER_FAILED`), following `TaskFailures`: the task goes to
   * another worker, a worker whose tasks keep failing is set aside, and the phase fails only when
   * a task has failed on every ready worker.
   */
  taskFailed(connection: C, message: ErrorMessage): void {
    const key = failedTaskKey(message.message);
    if (key && this.scheduler.failed(connection.id, key)) this.opts.counters.reassigned(1);
    const ready = this.opts.ready().map((c) => c.id);
    const verdict = this.failures.failed(connection.id, identityOf(connection), key, ready);
    if (verdict.setAside) this.setAside(connection, `its tasks failed ${this.opts.failuresToSetAside} times in a row`);
    if (verdict.stop && this.plan) {
      return this.settle(
        new Error(
          `task ${key} failed ${verdict.attempts} times, on every connected worker (the last: ${printable(message.message)}): ` +
            "no worker here can compute it, so retrying will not help. The workers' own logs say why",
        ),
      );
    }
    this.dispatch();
  }

  /** Sets `connection` aside in the scheduler, with its reason in the log and the workers' status. */
  private setAside(connection: C, reason: string): void {
    this.scheduler.setAside(connection.id);
    this.setAsideReasons.set(connection.id, reason);
    this.opts.log(`worker ${connection.label} set aside: ${reason} (it gets tasks only while no other worker can take them)`);
  }

  result(connection: C, message: ResultMessage): void {
    const verdict = this.scheduler.result(connection.id, message);
    if (verdict === 'neverGiven') {
      const task = `step ${message.step} ${message.phase} shard ${message.shard}`;
      return this.opts.violation(connection, protocolError('NOT_IN_FLIGHT', `result for ${task}, which this worker was never given`));
    }
    this.opts.counters.workerCpu(message.cpuMs); // late and repeated results too: the CPU was spent
    if (verdict === 'late') return; // its task was taken back at its deadline: not an attack, just useless
    const plan = this.plan;
    if (!plan || plan.step !== message.step || plan.phase !== message.phase) return this.dispatch();
    const outcome = this.check(connection, plan, message);
    if (outcome.kind === 'wrong') return this.convict(connection, plan, outcome);
    if (outcome.kind === 'refereeInconsistent') {
      return this.settle(
        new Error(`the coordinator computed task ${outcome.task} twice with different bits: it cannot check workers' results (--verify 0 turns checking off)`),
      );
    }
    if (plan.accept(message)) {
      this.opts.checker?.ledger.accepted(identityOf(connection), message.step, outcome.kind === 'verified');
      this.scheduler.credit(connection.id);
      this.failures.succeeded(identityOf(connection));
      connection.shardsDone++;
      connection.computeMs += message.computeMs;
      this.opts.counters.accepted(connection.id, message.computeMs);
      this.opts.trace('accepted', { worker: connection.id, step: message.step, phase: message.phase, shard: message.shard });
      if (plan.isComplete()) return this.settle();
    }
    this.dispatch();
  }

  /** `--verify`: the result checked against the coordinator's own computation when chosen (or its worker was caught before). */
  private check(connection: C, plan: PhasePlan, message: ResultMessage): CheckOutcome {
    const checker = this.opts.checker;
    const task = plan.tasks[message.shard];
    if (!checker || !task) return { kind: 'unchecked' };
    const worker = { identity: identityOf(connection), label: connection.label, backend: connection.info?.backend ?? '' };
    return checker.check(plan.state, task, message, worker);
  }

  /**
   * A worker returned a wrong result: set aside with the evidence, every later result of its
   * checked; the coordinator's own result takes the wrong one's place, and when results of the
   * worker's were accepted unchecked, the run returns to the step before the first of them.
   */
  private convict(connection: C, plan: PhasePlan, outcome: Extract<CheckOutcome, { kind: 'wrong' }>): void {
    const e = outcome.evidence;
    this.opts.counters.caught(e);
    this.setAside(
      connection,
      `returned a wrong result for ${e.step}/${e.phase}/${e.shard} (sha256 ${e.workerSha256.slice(0, 16)}, the coordinator's ${e.coordinatorSha256.slice(0, 16)})`,
    );
    if (outcome.rewindTo !== undefined) {
      this.opts.log(`worker ${connection.label}: its unchecked results since step ${outcome.rewindTo} are undone: the run returns there`);
      return this.settle(new RewindRequest(outcome.rewindTo, e));
    }
    if (plan.accept(outcome.result) && plan.isComplete()) return this.settle();
    this.dispatch();
  }

  /** Takes back the tasks whose deadline passed (for other workers first), saying so. */
  expire(now: number): void {
    for (const overrun of this.scheduler.expire(now)) {
      this.opts.counters.reassigned(overrun.tasks.length);
      const label = this.opts.connection(overrun.worker)?.label ?? overrun.worker;
      const keys = overrun.tasks.map(taskKey).join(', ');
      this.opts.log(
        `worker ${label} overran the ${this.opts.taskTimeoutMs} ms task deadline: ${keys} back to the queue, for another worker when one is connected`,
      );
      if (overrun.setAside) {
        this.opts.log(
          `worker ${label} overran ${this.opts.strikesToSetAside} deadlines in a row: set aside (it gets tasks only while no other worker can take them)`,
        );
      }
    }
    this.dispatch();
  }

  private dispatch(): void {
    const plan = this.plan;
    if (!plan) return;
    for (const assignment of this.scheduler.dispatch(Date.now())) this.give(plan, assignment);
  }

  private give(plan: PhasePlan, { worker, task }: Assignment): void {
    const connection = this.opts.connection(worker);
    if (!connection) throw new Error(`scheduler gave task ${taskKey(task)} to ${worker}, which is not connected`);
    this.opts.deliver(connection, plan, task, true);
  }

  /** Each of `connections` as the dashboard and the API show it. */
  statuses(connections: readonly WorkerConnection[]): WorkerStatus[] {
    return workerStatuses(connections, this.scheduler, this.setAsideReasons);
  }
}
