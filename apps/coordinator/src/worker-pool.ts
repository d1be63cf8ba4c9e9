import type { WebSocket } from 'ws';
import {
  decodeWorkerMessage,
  PROTOCOL_VERSION,
  validateGradient,
  protocolError,
  ProtocolError,
  CLOSE_TRAINING_DONE,
  type CoordinatorMessage,
  type ErrorMessage,
  type ResultMessage,
  type WorkerMessage,
} from '@distgan/protocol';
import type { PhasePlan, ShardExecutor } from '@distgan/training';
import { traceFromEnv } from '@distgan/runtime';
import { printable } from './log-text.js';
import { failedTaskKey, TaskFailures } from './task-failures.js';
import { PoolCounters, type PoolTotals, type StepStats } from './pool-counters.js';
import { RewindRequest, type CheckOutcome } from './verification.js';
import { Scheduler, taskKey, type Assignment } from './scheduler.js';
import { SnapshotSender } from './snapshot-sender.js';
import { workerStatuses } from './pool-status.js';
import { CLOSE_RECONNECT, ERROR_FLOOD, ERRORS_LOGGED, identityOf, PhaseAbortedError, type WorkerPoolOptions, type WorkerStatus } from './pool-options.js';
import { WorkerConnection } from './worker-connection.js';

/** DISTGAN_TRACE=DIR: phase starts, frame arrivals and accepted results (docs/performance.md, "Where a step's time goes"). */
const trace = traceFromEnv('coordinator');

/**
 * The coordinator's remote executor: shard tasks over WebSocket connections. `Scheduler` decides
 * who gets which task and when a task goes back to the queue; this class turns socket events into
 * its inputs and its decisions into frames. Results are accepted once per (step, phase, shard).
 */
export class WorkerPool implements ShardExecutor {
  private readonly connections = new Map<string, WorkerConnection>();
  private readonly scheduler: Scheduler;
  private nextId = 1;
  private plan: PhasePlan | null = null;
  private phaseSettled: { readonly resolve: () => void; readonly reject: (err: Error) => void } | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private waitingSince: number | null = null;
  private lastWaitingLog = 0;
  private closed = false;
  private readonly opts: Required<WorkerPoolOptions>;
  private readonly welcomeBase: Omit<Extract<CoordinatorMessage, { type: 'welcome' }>, 'workerId'>;
  /** Set by `abortPhase` between phases: the next phase ends at once unless a worker is connected. */
  private abortReason: string | null = null;
  private readonly failures: TaskFailures;
  /** Why each set-aside connection was set aside, for the dashboard. */
  private readonly setAsideReasons = new Map<string, string>();

  private readonly counters = new PoolCounters();
  private readonly snapshotSender: SnapshotSender;
  /** The largest gradient of this model, in bytes: a result file beyond it is refused unread. */
  private readonly maxGradientBytes: number;
  private readyWaiters: { readonly count: number; readonly resolve: () => void }[] = [];

  constructor(options: WorkerPoolOptions) {
    this.opts = {
      maxInFlight: 2,
      taskTimeoutMs: 120_000,
      strikesToSetAside: 2,
      failuresToStop: 3,
      failuresToSetAside: 2,
      heartbeatMs: 5_000,
      handshakeTimeoutMs: 30_000,
      waitingLogMs: 10_000,
      checker: null,
      sharedSnapshots: null,
      ...options,
    };
    this.snapshotSender = new SnapshotSender(this.opts.sharedSnapshots, (connection, message, onSent) => this.send(connection, message, onSent), trace);
    this.maxGradientBytes = 4 * Math.max(this.opts.limits.dParams, this.opts.limits.gParams);
    this.failures = new TaskFailures({ failuresToStop: this.opts.failuresToStop, failuresToSetAside: this.opts.failuresToSetAside });
    this.scheduler = new Scheduler({
      maxInFlight: this.opts.maxInFlight,
      taskTimeoutMs: this.opts.taskTimeoutMs,
      strikesToSetAside: this.opts.strikesToSetAside,
    });
    this.welcomeBase = {
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      config: options.config,
      configHash: options.configHash,
      datasetFingerprint: options.datasetFingerprint,
    };
    this.timers.push(setInterval(() => this.heartbeat(), this.opts.heartbeatMs));
    this.timers.push(setInterval(() => this.checkDeadlines(), Math.min(1_000, this.opts.taskTimeoutMs)));
    for (const t of this.timers) t.unref();
  }

  /** Takes over a freshly upgraded, already authenticated WebSocket. */
  attach(ws: WebSocket, remote: string): void {
    if (this.closed) {
      ws.close(CLOSE_TRAINING_DONE, 'training is over');
      return;
    }
    const connection = new WorkerConnection(`w${this.nextId++}`, ws, remote);
    this.connections.set(connection.id, connection);
    connection.startHandshakeTimer(this.opts.handshakeTimeoutMs, () =>
      this.violation(connection, protocolError('HANDSHAKE_TIMEOUT', `no hello and ready within ${this.opts.handshakeTimeoutMs} ms`)),
    );
    ws.on('message', (data, isBinary) => this.onFrame(connection, data as Buffer, isBinary));
    ws.on('close', (code, reason) => this.onClose(connection, code, reason.toString()));
    ws.on('error', (err) => this.opts.log(`worker ${connection.label}: socket error: ${err.message}`));
  }

  // ---- the ShardExecutor side ----

  runPhase(plan: PhasePlan): Promise<void> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    trace('phaseStart', { step: plan.step, phase: plan.phase });
    if (this.abortReason !== null && this.readyCount() === 0) return Promise.reject(new PhaseAbortedError(plan.phase, this.abortReason));
    return new Promise((resolve, reject) => {
      this.plan = plan;
      this.phaseSettled = { resolve, reject };
      this.failures.startPhase();
      for (const held of this.scheduler.startPhase(plan.tasks, plan.upcoming ?? [], Date.now())) {
        const connection = this.connections.get(held.worker);
        if (connection) this.snapshotSender.sendFor(connection, plan, held.task);
      }
      this.dispatch();
      trace('dispatched', { step: plan.step, phase: plan.phase });
      this.noteWaiting();
    });
  }

  /**
   * Ends the phase in progress without its results (a `PhaseAbortedError`), or, between phases,
   * the next one as soon as it starts with no worker connected: the run is stopping.
   */
  abortPhase(reason: string): void {
    const plan = this.plan;
    if (plan) this.settlePhase(new PhaseAbortedError(plan.phase, reason));
    else this.abortReason = reason;
  }

  /** Ends the phase in progress: resolved when complete, rejected when the run cannot go on. */
  private settlePhase(error?: Error): void {
    const settled = this.phaseSettled;
    this.plan = null;
    this.phaseSettled = null;
    this.scheduler.endPhase();
    if (error) settled?.reject(error);
    else settled?.resolve();
  }

  // ---- inbound ----

  private onFrame(connection: WorkerConnection, data: Buffer, isBinary: boolean): void {
    if (connection.state === 'closed') return;
    connection.lastSeen = Date.now();
    this.counters.received(data.byteLength);
    trace('frame', { worker: connection.id, bytes: data.byteLength });
    if (!isBinary) {
      this.violation(connection, protocolError('BAD_FRAME', 'text frames are not part of the protocol'));
      return;
    }
    let message: WorkerMessage;
    try {
      message = decodeWorkerMessage(data, this.opts.limits);
    } catch (err) {
      if (err instanceof ProtocolError) this.violation(connection, err);
      else throw err;
      return;
    }
    switch (message.type) {
      case 'hello':
        if (connection.state !== 'hello') return this.violation(connection, protocolError('UNEXPECTED_MESSAGE', 'hello sent twice'));
        connection.info = message.worker;
        connection.sharedSnapshots = message.snapshotDir !== null && message.snapshotDir === this.opts.sharedSnapshots?.dir;
        connection.state = 'welcomed';
        this.send(connection, { ...this.welcomeBase, workerId: connection.id });
        return;
      case 'ready':
        {
          const refused = connection.readyError(message, this.opts);
          if (refused) return this.violation(connection, refused);
        }
        connection.markReady();
        this.scheduler.join(connection.id);
        // A worker that failed its tasks before comes back set aside: reconnecting does not put it ahead of the others.
        if (this.failures.isSetAside(identityOf(connection))) this.setAside(connection, 'it failed its tasks in a row when connected before');
        else if (this.opts.checker?.ledger.isConvicted(identityOf(connection))) this.setAside(connection, 'it returned a wrong result when connected before');
        this.opts.log(`worker ${connection.label} joined (backend ${printable(connection.info?.backend ?? '?')}); ${this.readyCount()} connected`);
        this.warnOnMixedBackends(connection);
        this.waitingSince = null;
        this.notifyJoined();
        this.dispatch();
        return;
      case 'result':
        if (connection.state !== 'ready') return this.violation(connection, protocolError('UNEXPECTED_MESSAGE', 'result before the handshake finished'));
        this.onResult(connection, message);
        return;
      case 'resultFile': {
        if (connection.state !== 'ready') return this.violation(connection, protocolError('UNEXPECTED_MESSAGE', 'result before the handshake finished'));
        const shared = this.opts.sharedSnapshots;
        if (!connection.sharedSnapshots || !shared)
          return this.violation(connection, protocolError('UNEXPECTED_MESSAGE', 'resultFile from a worker not reading the shared folder'));
        let gradient: Float32Array;
        try {
          gradient = validateGradient(message.phase, shared.takeResult(connection.id, message.file, this.maxGradientBytes), this.opts.limits);
        } catch (err) {
          if (err instanceof ProtocolError) return this.violation(connection, err);
          throw err;
        }
        const { file: _, ...fields } = message;
        this.onResult(connection, { ...fields, type: 'result', gradient });
        return;
      }
      case 'error':
        this.onWorkerError(connection, message);
        return;
      default: {
        const unknown: never = message;
        throw new Error(`unhandled message ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * Bit-identical weights need every shard computed with the same arithmetic: workers on different
   * backends (or, for tfjs-node, CPU families) make the weights depend on who computed what. Said
   * once per joining worker whose backend differs from one already connected.
   */
  private warnOnMixedBackends(joined: WorkerConnection): void {
    const backend = joined.info?.backend;
    const other = [...this.connections.values()].find((c) => c !== joined && c.state === 'ready' && c.info?.backend !== backend);
    if (!other) return;
    this.opts.log(
      `warning: worker ${joined.label} computes on ${printable(backend ?? '?')} and ${other.label} on ${printable(other.info?.backend ?? '?')}: ` +
        'the weights will depend on which worker computes which shard; give every worker the same --backend for bit-identical runs',
    );
  }

  /**
   * A worker's own error, logged (the first few per connection). A task failure (`WORKER_FAILED`)
   * follows `TaskFailures`: the task goes to another worker, a worker whose tasks keep failing is
   * set aside, and the run stops only when a task has failed on every connected worker.
   */
  private onWorkerError(connection: WorkerConnection, message: ErrorMessage): void {
    const received = ++connection.errorsReceived;
    if (received <= ERRORS_LOGGED) this.opts.log(`worker ${connection.label} reported ${printable(message.code)}: ${printable(message.message)}`);
    if (received === ERRORS_LOGGED) this.opts.log(`worker ${connection.label}: further error messages on this connection are only counted`);
    if (received >= ERROR_FLOOD) {
      return this.violation(connection, protocolError('ERROR_FLOOD', `${received} error messages on one connection (the last: ${message.code})`));
    }
    if (message.code !== 'WORKER_FAILED' || connection.state !== 'ready') return;
    const key = failedTaskKey(message.message);
    if (key && this.scheduler.failed(connection.id, key)) this.counters.reassigned(1);
    const ready = [...this.connections.values()].filter((c) => c.state === 'ready').map((c) => c.id);
    const verdict = this.failures.failed(connection.id, identityOf(connection), key, ready);
    if (verdict.setAside) this.setAside(connection, `its tasks failed ${this.opts.failuresToSetAside} times in a row`);
    if (verdict.stop && this.plan) {
      this.settlePhase(
        new Error(
          `task ${key} failed ${verdict.attempts} times, on every connected worker (the last: ${printable(message.message)}): ` +
            "no worker here can compute it, so retrying will not help. The workers' own logs say why",
        ),
      );
      return;
    }
    this.dispatch();
  }

  /** Sets `connection` aside in the scheduler, with its reason in the log and the workers' status. */
  private setAside(connection: WorkerConnection, reason: string): void {
    this.scheduler.setAside(connection.id);
    this.setAsideReasons.set(connection.id, reason);
    this.opts.log(`worker ${connection.label} set aside: ${reason} (it gets tasks only while no other worker can take them)`);
  }

  private onResult(connection: WorkerConnection, message: ResultMessage): void {
    const verdict = this.scheduler.result(connection.id, message);
    if (verdict === 'neverGiven') {
      this.violation(
        connection,
        protocolError('NOT_IN_FLIGHT', `result for step ${message.step} ${message.phase} shard ${message.shard}, which this worker was never given`),
      );
      return;
    }
    this.counters.workerCpu(message.cpuMs); // late and repeated results too: the CPU was spent
    if (verdict === 'late') return; // its task was taken back at its deadline: not an attack, just useless
    const plan = this.plan;
    if (!plan || plan.step !== message.step || plan.phase !== message.phase) return this.dispatch();
    const outcome = this.checkResult(connection, plan, message);
    if (outcome.kind === 'wrong') return this.convict(connection, plan, outcome);
    if (outcome.kind === 'refereeInconsistent') {
      return this.settlePhase(
        new Error(`the coordinator computed task ${outcome.task} twice with different bits: it cannot check workers' results (--verify 0 turns checking off)`),
      );
    }
    if (plan.accept(message)) {
      this.opts.checker?.ledger.accepted(identityOf(connection), message.step, outcome.kind === 'verified');
      this.scheduler.credit(connection.id);
      this.failures.succeeded(identityOf(connection));
      connection.shardsDone++;
      connection.computeMs += message.computeMs;
      this.counters.accepted(connection.id, message.computeMs);
      trace('accepted', { worker: connection.id, step: message.step, phase: message.phase, shard: message.shard });
      if (plan.isComplete()) {
        this.settlePhase();
        return;
      }
    }
    this.dispatch();
  }

  /** `--verify`: the result checked against the coordinator's own computation when chosen (or its worker was caught before). */
  private checkResult(connection: WorkerConnection, plan: PhasePlan, message: ResultMessage): CheckOutcome {
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
  private convict(connection: WorkerConnection, plan: PhasePlan, outcome: Extract<CheckOutcome, { kind: 'wrong' }>): void {
    const e = outcome.evidence;
    this.counters.caught(e);
    this.setAside(
      connection,
      `returned a wrong result for ${e.step}/${e.phase}/${e.shard} (sha256 ${e.workerSha256.slice(0, 16)}, the coordinator's ${e.coordinatorSha256.slice(0, 16)})`,
    );
    if (outcome.rewindTo !== undefined) {
      this.opts.log(`worker ${connection.label}: its unchecked results since step ${outcome.rewindTo} are undone: the run returns there`);
      return this.settlePhase(new RewindRequest(outcome.rewindTo, e));
    }
    if (plan.accept(outcome.result) && plan.isComplete()) return this.settlePhase();
    this.dispatch();
  }

  private onClose(connection: WorkerConnection, code: number, reason: string): void {
    const wasReady = connection.state === 'ready';
    if (!connection.markClosed()) return;
    this.connections.delete(connection.id);
    const lost = this.scheduler.leave(connection.id);
    this.counters.reassigned(lost.length);
    this.setAsideReasons.delete(connection.id);
    if (connection.errorsReceived > ERRORS_LOGGED) this.opts.log(`worker ${connection.label} sent ${connection.errorsReceived} error messages in all`);
    if (wasReady || lost.length > 0) {
      this.opts.log(
        `worker ${connection.label} left (close ${code}${reason ? `: ${printable(reason)}` : ''}); ${lost.length} task(s) requeued; ${this.readyCount()} connected`,
      );
    }
    this.dispatch();
    this.noteWaiting();
  }

  /** Drops a connection for a protocol violation, telling the peer why first. */
  private violation(connection: WorkerConnection, err: ProtocolError): void {
    if (connection.state === 'closed') return;
    this.opts.log(`closing worker ${connection.label}: ${printable(err.message)}`);
    this.send(connection, { type: 'error', code: err.code, message: err.detail });
    connection.ws.close(err.closeCode, err.closeReason);
    // Treat it as gone now: its tasks must not wait for the close handshake.
    this.onClose(connection, err.closeCode, err.closeReason);
    // If it never completes the close handshake, cut it.
    setTimeout(() => connection.ws.terminate(), 2_000).unref();
  }

  // ---- outbound ----

  private send(connection: WorkerConnection, message: CoordinatorMessage | Uint8Array, onSent?: () => void): void {
    const bytes = connection.send(message, onSent);
    this.counters.sent(bytes);
    if (bytes > 65_536) trace('bulkSent', { worker: connection.id, bytes });
  }

  private give(plan: PhasePlan, { worker, task }: Assignment): void {
    const connection = this.connections.get(worker);
    if (!connection) throw new Error(`scheduler gave task ${taskKey(task)} to ${worker}, which is not connected`);
    this.snapshotSender.sendFor(connection, plan, task);
    this.send(connection, { type: 'task', ...task });
  }

  private dispatch(): void {
    const plan = this.plan;
    if (!plan) return;
    for (const assignment of this.scheduler.dispatch(Date.now())) this.give(plan, assignment);
  }

  // ---- timers ----

  private heartbeat(): void {
    for (const connection of [...this.connections.values()]) {
      if (connection.state === 'closed' || connection.heartbeat()) continue;
      this.opts.log(
        `worker ${connection.label} missed a heartbeat (${this.opts.heartbeatMs} ms): dropping it (if its shards legitimately take longer, raise --heartbeat-ms)`,
      );
      connection.ws.terminate();
      this.onClose(connection, 1006, 'heartbeat timeout');
    }
    this.noteWaiting();
  }

  private checkDeadlines(): void {
    for (const overrun of this.scheduler.expire(Date.now())) {
      this.counters.reassigned(overrun.tasks.length);
      const label = this.connections.get(overrun.worker)?.label ?? overrun.worker;
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

  private noteWaiting(): void {
    if (!this.plan || this.readyCount() > 0) {
      this.waitingSince = null;
      return;
    }
    const now = Date.now();
    this.waitingSince ??= now;
    if (now - this.lastWaitingLog >= this.opts.waitingLogMs) {
      this.lastWaitingLog = now;
      const secs = Math.round((now - this.waitingSince) / 1000);
      this.opts.log(`waiting for workers: none connected (step ${this.plan.step} ${this.plan.phase} phase${secs > 0 ? `, waited ${secs}s` : ''})`);
    }
  }

  /** Resolves once at least `count` workers have finished their handshake (now, if they have). */
  whenReady(count: number): Promise<void> {
    if (this.readyCount() >= count) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push({ count, resolve }));
  }

  private notifyJoined(): void {
    const ready = this.readyCount();
    const due = this.readyWaiters.filter((w) => ready >= w.count);
    this.readyWaiters = this.readyWaiters.filter((w) => ready < w.count);
    for (const w of due) w.resolve();
  }

  // ---- status ----

  readyCount(): number {
    let n = 0;
    for (const c of this.connections.values()) if (c.state === 'ready') n++;
    return n;
  }

  /** Per-step counters (bytes, shards per worker, compute and CPU time), reset on each call. */
  totals(): PoolTotals {
    return this.counters.totals();
  }

  takeStepStats(): StepStats {
    return this.counters.takeStep(this.readyCount(), this.opts.checker?.takeVerified());
  }

  workers(): WorkerStatus[] {
    return workerStatuses([...this.connections.values()], this.scheduler, this.setAsideReasons);
  }

  /**
   * Closes every connection so that each worker reconnects with a clean slate: after the run
   * returned to an earlier step, snapshot versions repeat with other weights, and no task or
   * snapshot a worker holds from before may count.
   */
  reconnectAll(reason: string): void {
    for (const connection of [...this.connections.values()]) {
      connection.ws.close(CLOSE_RECONNECT, reason);
      // Gone now (its tasks back to the queue), not when the close handshake ends.
      this.onClose(connection, CLOSE_RECONNECT, reason);
    }
  }

  /** Tells every worker training is over and closes the connections. */
  close(reason: string): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const connection of this.connections.values()) {
      if (connection.state === 'ready' || connection.state === 'welcomed') this.send(connection, { type: 'done', reason });
      connection.close(CLOSE_TRAINING_DONE, 'training is over');
    }
    this.connections.clear();
  }
}
