import type { WebSocket } from 'ws';
import {
  decodeWorkerMessage,
  protocolError,
  ProtocolError,
  CLOSE_TRAINING_DONE,
  type CoordinatorMessage,
  type ErrorMessage,
  type ResultFileMessage,
  type ResultMessage,
  type WelcomeMessage,
  type WorkerMessage,
} from '@distgan/protocol';
import type { PhasePlan, ShardExecutor, ShardTask } from '@distgan/training';
import { traceFromEnv } from '@distgan/runtime';
import { printable } from './log-text.js';
import { PhaseRunner } from './phase-runner.js';
import { PoolCounters, type PoolTotals } from './pool-counters.js';
import type { VerifiedStepStats } from './verification.js';
import { SnapshotSender } from './snapshot-sender.js';
import { mixedBackendWarning } from './pool-status.js';
import { CLOSE_RECONNECT, ERROR_FLOOD, ERRORS_LOGGED, welcomeFor, withPoolDefaults, type WorkerPoolOptions, type WorkerStatus } from './pool-options.js';
import { ReadyWaiters } from './ready-waiters.js';
import { WaitingLog } from './waiting-log.js';
import { WorkerConnection } from './worker-connection.js';

/** DISTGAN_TRACE=DIR: phase starts, frame arrivals and accepted results (docs/performance.md, "Where a step's time goes"). */
const trace = traceFromEnv('coordinator');

/**
 * The coordinator's remote executor: shard tasks over WebSocket connections. Owns the sockets:
 * each connection's handshake, frames in and out, heartbeats and closes. `PhaseRunner` decides
 * what a phase's tasks and results mean (with `Scheduler` and the failure rules); this class turns
 * socket events into its calls and its decisions into frames.
 */
export class WorkerPool implements ShardExecutor {
  private readonly connections = new Map<string, WorkerConnection>();
  private readonly runner: PhaseRunner;
  private nextId = 1;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly waiting: WaitingLog;
  private closed = false;
  private readonly opts: Required<WorkerPoolOptions>;
  private readonly welcome: Omit<WelcomeMessage, 'workerId'>;

  private readonly counters = new PoolCounters();
  private readonly snapshotSender: SnapshotSender;
  /** The largest gradient of this model, in bytes: a result file beyond it is refused unread. */
  private readonly maxGradientBytes: number;
  private readonly readyWaiters = new ReadyWaiters();

  constructor(options: WorkerPoolOptions) {
    this.opts = withPoolDefaults(options);
    this.welcome = welcomeFor(options);
    this.waiting = new WaitingLog(this.opts.waitingLogMs);
    this.snapshotSender = new SnapshotSender(this.opts.sharedSnapshots, (connection, message, onSent) => this.send(connection, message, onSent), trace);
    this.maxGradientBytes = 4 * Math.max(this.opts.limits.dParams, this.opts.limits.gParams);
    this.runner = new PhaseRunner({
      ...this.opts,
      counters: this.counters,
      trace,
      connection: (id) => this.connections.get(id),
      ready: () => [...this.connections.values()].filter((c) => c.state === 'ready'),
      deliver: (connection, plan, task, withTask) => this.deliver(connection, plan, task, withTask),
      violation: (connection, err) => this.violation(connection, err),
    });
    this.timers.push(setInterval(() => this.heartbeat(), this.opts.heartbeatMs));
    this.timers.push(setInterval(() => this.runner.expire(Date.now()), Math.min(1_000, this.opts.taskTimeoutMs)));
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
    const done = this.runner.run(plan);
    this.noteWaiting();
    return done;
  }

  /**
   * Ends the phase in progress without its results (a `PhaseAbortedError`), or, between phases,
   * the next one as soon as it starts with no worker connected: the run is stopping.
   */
  abortPhase(reason: string): void {
    this.runner.abort(reason);
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
      case 'hello': {
        const refused = connection.hello(message, this.opts.sharedSnapshots?.dir);
        if (refused) return this.violation(connection, refused);
        this.send(connection, { ...this.welcome, workerId: connection.id });
        return;
      }
      case 'ready': {
        const refused = connection.readyError(message, this.opts);
        if (refused) return this.violation(connection, refused);
        this.onReady(connection);
        return;
      }
      case 'result':
      case 'resultFile': {
        if (connection.state !== 'ready') return this.violation(connection, protocolError('UNEXPECTED_MESSAGE', 'result before the handshake finished'));
        const result = message.type === 'result' ? message : this.resultOfFile(connection, message);
        if (result) this.runner.result(connection, result);
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

  private onReady(connection: WorkerConnection): void {
    connection.markReady();
    this.runner.joined(connection);
    this.opts.log(`worker ${connection.label} joined (backend ${printable(connection.info?.backend ?? '?')}); ${this.readyCount()} connected`);
    const mixed = mixedBackendWarning(connection, [...this.connections.values()]);
    if (mixed) this.opts.log(mixed);
    this.noteWaiting();
    this.readyWaiters.notify(this.readyCount());
  }

  /** A `resultFile` as its `result`, or null when refused (the connection is then closed). */
  private resultOfFile(connection: WorkerConnection, message: ResultFileMessage): ResultMessage | null {
    const shared = this.opts.sharedSnapshots;
    if (!connection.sharedSnapshots || !shared) {
      this.violation(connection, protocolError('UNEXPECTED_MESSAGE', 'resultFile from a worker not reading the shared folder'));
      return null;
    }
    try {
      return shared.resultOf(connection.id, message, this.maxGradientBytes, this.opts.limits);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.violation(connection, err);
      return null;
    }
  }

  /** A worker's own error: logged (the first few per connection), a task failure to the runner's rules, a flood closes the connection. */
  private onWorkerError(connection: WorkerConnection, message: ErrorMessage): void {
    const received = ++connection.errorsReceived;
    if (received <= ERRORS_LOGGED) this.opts.log(`worker ${connection.label} reported ${printable(message.code)}: ${printable(message.message)}`);
    if (received === ERRORS_LOGGED) this.opts.log(`worker ${connection.label}: further error messages on this connection are only counted`);
    if (received >= ERROR_FLOOD) {
      return this.violation(connection, protocolError('ERROR_FLOOD', `${received} error messages on one connection (the last: ${message.code})`));
    }
    if (message.code === 'WORKER_FAILED' && connection.state === 'ready') this.runner.taskFailed(connection, message);
  }

  private onClose(connection: WorkerConnection, code: number, reason: string): void {
    const wasReady = connection.state === 'ready';
    if (!connection.markClosed()) return;
    this.connections.delete(connection.id);
    const lost = this.runner.left(connection);
    if (connection.errorsReceived > ERRORS_LOGGED) this.opts.log(`worker ${connection.label} sent ${connection.errorsReceived} error messages in all`);
    if (wasReady || lost > 0) {
      this.opts.log(
        `worker ${connection.label} left (close ${code}${reason ? `: ${printable(reason)}` : ''}); ${lost} task(s) requeued; ${this.readyCount()} connected`,
      );
    }
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

  /** The snapshots `task` needs that `connection` lacks, then (`withTask`) the task. */
  private deliver(connection: WorkerConnection, plan: PhasePlan, task: ShardTask, withTask: boolean): void {
    this.snapshotSender.sendFor(connection, plan, task);
    if (withTask) this.send(connection, { type: 'task', ...task });
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

  private noteWaiting(): void {
    const line = this.waiting.note(this.runner.current, this.readyCount(), Date.now());
    if (line) this.opts.log(line);
  }

  /** Resolves once at least `count` workers have finished their handshake (now, if they have). */
  whenReady(count: number): Promise<void> {
    return this.readyWaiters.wait(count, this.readyCount());
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

  takeStepStats(): VerifiedStepStats {
    return this.counters.takeStep(this.readyCount(), this.opts.checker?.takeVerified());
  }

  workers(): WorkerStatus[] {
    return this.runner.statuses([...this.connections.values()]);
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
