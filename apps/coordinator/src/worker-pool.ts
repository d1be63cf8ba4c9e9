import type { WebSocket } from 'ws';
import {
  encodeMessage,
  decodeWorkerMessage,
  PROTOCOL_VERSION,
  protocolError,
  ProtocolError,
  CLOSE_TRAINING_DONE,
  type CoordinatorMessage,
  type NetworkName,
  type ResultMessage,
  type WorkerInfo,
  type WorkerMessageLimits,
} from '@distgan/protocol';
import type { PhasePlan, ShardExecutor, ShardTask } from '@distgan/training';
import { traceFromEnv } from '@distgan/runtime';
import { SnapshotFrames } from './snapshot-frames.js';

/** DISTGAN_TRACE=DIR: phase starts, frame arrivals and accepted results (see README Performance). */
const trace = traceFromEnv('coordinator');

export interface WorkerPoolOptions {
  /** The run config as sent in `welcome`. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly configHash: string;
  readonly datasetFingerprint: string;
  readonly limits: WorkerMessageLimits;
  readonly log: (message: string) => void;
  /** Tasks a worker may hold at once: 2 hides the round trip behind the next compute. */
  readonly maxInFlight?: number;
  /** A task not answered in this time goes back to the queue (its late result is dropped). */
  readonly taskTimeoutMs?: number;
  /** Ping period; a worker that has not answered the previous ping is dropped. */
  readonly heartbeatMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** How often to repeat "waiting for workers" while none is connected. */
  readonly waitingLogMs?: number;
}

type SessionState = 'hello' | 'welcomed' | 'ready' | 'closed';

interface InFlight {
  readonly task: ShardTask;
  readonly sentAt: number;
}

/** What the pool counted since the last `takeStepStats()`. */
export interface StepStats {
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly shardsByWorker: Record<string, number>;
  readonly workers: number;
  /** The accepted results' compute times, summed. */
  readonly shardComputeMs: number;
  /** CPU time the workers' results reported, summed (protocol 3's `cpuMs`). */
  readonly workerCpuMs: number;
}

/** One connected worker, as the coordinator sees it. */
export interface WorkerStatus {
  readonly id: string;
  readonly name: string;
  readonly host: string;
  readonly backend: string;
  readonly state: SessionState;
  readonly shardsDone: number;
  readonly meanShardMs: number;
  readonly inFlight: number;
  readonly lastSeen: string;
  readonly connectedAt: string;
}

class WorkerSession {
  state: SessionState = 'hello';
  info: WorkerInfo | undefined;
  readonly inFlight = new Map<string, InFlight>();
  /** Every task key handed to this worker in the current and previous step: tells late from bogus. */
  readonly given = new Map<string, number>();
  readonly versions: Record<NetworkName, number> = { D: -1, G: -1 };
  shardsDone = 0;
  computeMs = 0;
  lastSeen = Date.now();
  readonly connectedAt = Date.now();
  answeredPing = true;
  handshakeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    readonly remote: string,
  ) {}

  get label(): string {
    return this.info ? `${this.id} (${this.info.name}@${this.info.host}, pid ${this.info.pid})` : `${this.id} (${this.remote})`;
  }
}

function taskKey(step: number, phase: string, shard: number): string {
  return `${step}/${phase}/${shard}`;
}

/**
 * The coordinator's remote executor: a work queue of shard tasks over WebSocket sessions.
 * Results are accepted once per (step, phase, shard); a worker that leaves, stops answering pings
 * or overruns a deadline loses its in-flight tasks back to the queue.
 */
export class WorkerPool implements ShardExecutor {
  private readonly sessions = new Map<string, WorkerSession>();
  private nextId = 1;
  private plan: PhasePlan | null = null;
  private queue: ShardTask[] = [];
  /** The plan's `upcoming` tasks not yet handed out ahead (see `dispatch`). */
  private upcoming: ShardTask[] = [];
  private finishPhase: (() => void) | null = null;
  private readonly snapshots = new SnapshotFrames(trace);
  private readonly timers: NodeJS.Timeout[] = [];
  private waitingSince: number | null = null;
  private lastWaitingLog = 0;
  private closed = false;
  private readonly opts: Required<WorkerPoolOptions>;
  private readonly welcomeBase: Omit<Extract<CoordinatorMessage, { type: 'welcome' }>, 'workerId'>;

  /** Counters since the last `takeStepStats()`. */
  private bytesIn = 0;
  private bytesOut = 0;
  private shardsByWorker: Record<string, number> = {};
  private shardComputeMs = 0;
  /** The workers' CPU time as their results report it. */
  private workerCpuMs = 0;
  private readyWaiters: { readonly count: number; readonly resolve: () => void }[] = [];
  /** Results dropped as late or duplicate, since start. */
  droppedResults = 0;
  /** Connections closed for protocol violations, since start. */
  violations = 0;

  constructor(options: WorkerPoolOptions) {
    this.opts = { maxInFlight: 2, taskTimeoutMs: 120_000, heartbeatMs: 5_000, handshakeTimeoutMs: 30_000, waitingLogMs: 10_000, ...options };
    this.welcomeBase = { type: 'welcome', protocol: PROTOCOL_VERSION, config: options.config, configHash: options.configHash, datasetFingerprint: options.datasetFingerprint };
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
    const session = new WorkerSession(`w${this.nextId++}`, ws, remote);
    this.sessions.set(session.id, session);
    session.handshakeTimer = setTimeout(() => {
      if (session.state === 'hello' || session.state === 'welcomed') this.violation(session, protocolError('HANDSHAKE_TIMEOUT', `no hello/ready within ${this.opts.handshakeTimeoutMs} ms`));
    }, this.opts.handshakeTimeoutMs);
    ws.on('message', (data, isBinary) => this.onFrame(session, data as Buffer, isBinary));
    ws.on('pong', () => {
      session.answeredPing = true;
      session.lastSeen = Date.now();
    });
    ws.on('close', (code, reason) => this.onClose(session, code, reason.toString()));
    ws.on('error', (err) => this.opts.log(`worker ${session.label}: socket error: ${err.message}`));
  }

  // ---- the ShardExecutor side ----

  runPhase(plan: PhasePlan): Promise<void> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    trace('phaseStart', { step: plan.step, phase: plan.phase });
    return new Promise((resolve) => {
      this.plan = plan;
      this.queue = this.takeHeldAhead(plan);
      this.upcoming = [...(plan.upcoming ?? [])];
      this.finishPhase = resolve;
      this.forgetOldTasks(plan.step);
      this.dispatch();
      trace('dispatched', { step: plan.step, phase: plan.phase });
      this.noteWaiting();
    });
  }

  // ---- inbound ----

  private onFrame(session: WorkerSession, data: Buffer, isBinary: boolean): void {
    if (session.state === 'closed') return;
    session.lastSeen = Date.now();
    this.bytesIn += data.byteLength;
    trace('frame', { worker: session.id, bytes: data.byteLength });
    if (!isBinary) {
      this.violation(session, protocolError('BAD_FRAME', 'text frames are not part of the protocol'));
      return;
    }
    let message;
    try {
      message = decodeWorkerMessage(data, this.opts.limits);
    } catch (err) {
      if (err instanceof ProtocolError) this.violation(session, err);
      else throw err;
      return;
    }
    switch (message.type) {
      case 'hello':
        if (session.state !== 'hello') return this.violation(session, protocolError('UNEXPECTED_MESSAGE', 'hello sent twice'));
        session.info = message.worker;
        session.state = 'welcomed';
        this.send(session, { ...this.welcomeBase, workerId: session.id });
        return;
      case 'ready':
        if (session.state !== 'welcomed') return this.violation(session, protocolError('UNEXPECTED_MESSAGE', `ready before welcome`));
        if (message.configHash !== this.opts.configHash) {
          return this.violation(session, protocolError('CONFIG_MISMATCH', `worker's config hash ${message.configHash.slice(0, 12)} != coordinator's ${this.opts.configHash.slice(0, 12)} (different distgan versions?)`));
        }
        if (message.datasetFingerprint !== this.opts.datasetFingerprint) {
          return this.violation(
            session,
            protocolError('DATASET_MISMATCH', `worker's MNIST fingerprint ${message.datasetFingerprint.slice(0, 12)} != coordinator's ${this.opts.datasetFingerprint.slice(0, 12)}`),
          );
        }
        clearTimeout(session.handshakeTimer);
        session.state = 'ready';
        this.opts.log(`worker ${session.label} joined (backend ${session.info?.backend}); ${this.readyCount()} connected`);
        this.waitingSince = null;
        this.notifyJoined();
        this.dispatch();
        return;
      case 'result':
        if (session.state !== 'ready') return this.violation(session, protocolError('UNEXPECTED_MESSAGE', 'result before the handshake finished'));
        this.onResult(session, message);
        return;
      case 'error':
        this.opts.log(`worker ${session.label} reported ${message.code}: ${message.message}`);
        return;
      default: {
        const unknown: never = message;
        throw new Error(`unhandled message ${JSON.stringify(unknown)}`);
      }
    }
  }

  private onResult(session: WorkerSession, message: ResultMessage): void {
    const key = taskKey(message.step, message.phase, message.shard);
    const inFlight = session.inFlight.delete(key);
    if (!inFlight && !session.given.has(key)) {
      this.violation(session, protocolError('NOT_IN_FLIGHT', `result for step ${message.step} ${message.phase} shard ${message.shard}, which this worker was never given`));
      return;
    }
    this.workerCpuMs += message.cpuMs; // late and repeated results too: the CPU was spent
    if (!inFlight) {
      this.droppedResults++; // late (its task was requeued) or repeated: not an attack, just useless
      return;
    }
    const plan = this.plan;
    if (plan && plan.step === message.step && plan.phase === message.phase && plan.accept(message)) {
      session.shardsDone++;
      session.computeMs += message.computeMs;
      this.shardsByWorker[session.id] = (this.shardsByWorker[session.id] ?? 0) + 1;
      this.shardComputeMs += message.computeMs;
      trace('accepted', { worker: session.id, step: message.step, phase: message.phase, shard: message.shard });
      if (plan.isComplete()) {
        const finish = this.finishPhase;
        this.plan = null;
        this.queue = [];
        this.upcoming = [];
        this.finishPhase = null;
        finish?.();
        return;
      }
    } else {
      this.droppedResults++;
    }
    this.dispatch();
  }

  private onClose(session: WorkerSession, code: number, reason: string): void {
    if (session.state === 'closed') return;
    const wasReady = session.state === 'ready';
    session.state = 'closed';
    clearTimeout(session.handshakeTimer);
    this.sessions.delete(session.id);
    const lost = [...session.inFlight.values()].map((f) => f.task);
    session.inFlight.clear();
    this.requeue(lost);
    if (wasReady || lost.length > 0) {
      this.opts.log(`worker ${session.label} left (close ${code}${reason ? `: ${reason}` : ''}); ${lost.length} task(s) requeued; ${this.readyCount()} connected`);
    }
    this.dispatch();
    this.noteWaiting();
  }

  /** Drops a connection for a protocol violation, telling the peer why first. */
  private violation(session: WorkerSession, err: ProtocolError): void {
    if (session.state === 'closed') return;
    this.violations++;
    this.opts.log(`closing worker ${session.label}: ${err.message}`);
    this.send(session, { type: 'error', code: err.code, message: err.detail });
    session.ws.close(err.closeCode, err.closeReason);
    // Treat it as gone now: its tasks must not wait for the close handshake.
    this.onClose(session, err.closeCode, err.closeReason);
    // If it never completes the close handshake, cut it.
    setTimeout(() => session.ws.terminate(), 2_000).unref();
  }

  // ---- outbound ----

  private send(session: WorkerSession, message: CoordinatorMessage | Uint8Array, onSent?: () => void): void {
    const frame = message instanceof Uint8Array ? message : encodeMessage(message);
    this.bytesOut += frame.byteLength;
    // ws calls back once the kernel has the bytes, or with an error if the socket is gone.
    session.ws.send(frame, { binary: true }, onSent);
    if (frame.byteLength > 65_536) trace('bulkSent', { worker: session.id, bytes: frame.byteLength });
  }

  /** Sends `net`'s snapshot at its current version: encoded once for every worker. */
  private sendSnapshot(session: WorkerSession, plan: PhasePlan, net: NetworkName): void {
    const snapshot = this.snapshots.current(net, plan.state.version(net), plan.state.weights(net));
    const sent = this.snapshots.sending(snapshot);
    try {
      this.send(session, snapshot.frame, sent);
    } catch (err) {
      sent(); // ws threw before taking the frame: nothing holds its memory
      throw err;
    }
  }

  /**
   * Sends `session` the snapshots `task` needs that it lacks and that exist: a task handed out
   * ahead names a G version the current phase has yet to produce, which goes out when its phase
   * starts (`takeHeldAhead`).
   */
  private sendSnapshotsFor(session: WorkerSession, plan: PhasePlan, task: ShardTask): void {
    for (const net of ['D', 'G'] as const) {
      const want = net === 'D' ? task.dVersion : task.gVersion;
      if (session.versions[net] !== want && want === plan.state.version(net)) {
        this.sendSnapshot(session, plan, net);
        session.versions[net] = want;
      }
    }
  }

  private give(session: WorkerSession, plan: PhasePlan, task: ShardTask): void {
    this.sendSnapshotsFor(session, plan, task);
    this.send(session, { type: 'task', ...task });
    const key = taskKey(task.step, task.phase, task.shard);
    session.inFlight.set(key, { task, sentAt: Date.now() });
    session.given.set(key, task.step);
  }

  /**
   * Round-robin one task at a time from `tasks`, so idle workers share it evenly; each round
   * starts with the workers holding the fewest tasks (an idle one takes a task handed out ahead
   * before one still computing this phase's).
   */
  private deal(plan: PhasePlan, tasks: ShardTask[]): void {
    let progressed = true;
    while (tasks.length > 0 && progressed) {
      progressed = false;
      for (const session of [...this.sessions.values()].sort((a, b) => a.inFlight.size - b.inFlight.size)) {
        if (tasks.length === 0) break;
        if (session.state !== 'ready' || session.inFlight.size >= this.opts.maxInFlight) continue;
        this.give(session, plan, tasks.shift()!);
        progressed = true;
      }
    }
  }

  private dispatch(): void {
    const plan = this.plan;
    if (!plan) return;
    this.deal(plan, this.queue);
    // With this phase's tasks all out, workers with room start on the next phase's: a D task's
    // real images need only D's snapshot, which they already hold, so they compute that share
    // while the coordinator finishes this phase and steps G.
    if (this.queue.length === 0) this.deal(plan, this.upcoming);
  }

  /**
   * At a phase's start: the plan's tasks that no worker holds from being handed out ahead (the
   * queue), after sending each holder the snapshots its tasks were waiting for. A held task
   * that does not match the plan's (it cannot, short of a bug) is taken back and queued.
   */
  private takeHeldAhead(plan: PhasePlan): ShardTask[] {
    const byKey = new Map(plan.tasks.map((t) => [taskKey(t.step, t.phase, t.shard), t]));
    const held = new Set<string>();
    for (const session of this.sessions.values()) {
      if (session.state !== 'ready') continue;
      for (const [key, flight] of session.inFlight) {
        const task = byKey.get(key);
        if (!task) continue;
        if (task.dVersion !== flight.task.dVersion || task.gVersion !== flight.task.gVersion) {
          session.inFlight.delete(key);
          continue;
        }
        held.add(key);
        this.sendSnapshotsFor(session, plan, task);
        // Its deadline runs from its phase's start, not from when it was handed out ahead.
        session.inFlight.set(key, { task, sentAt: Date.now() });
      }
    }
    return plan.tasks.filter((t) => !held.has(taskKey(t.step, t.phase, t.shard)));
  }

  private requeue(tasks: ShardTask[]): void {
    const plan = this.plan;
    if (!plan) return;
    const current = tasks.filter((t) => t.step === plan.step && t.phase === plan.phase);
    this.queue = [...this.queue, ...current].sort((a, b) => a.shard - b.shard);
  }

  private forgetOldTasks(step: number): void {
    for (const session of this.sessions.values()) {
      for (const [key, s] of session.given) if (s < step - 1) session.given.delete(key);
    }
  }

  // ---- timers ----

  private heartbeat(): void {
    for (const session of this.sessions.values()) {
      if (session.state === 'closed') continue;
      if (!session.answeredPing) {
        this.opts.log(`worker ${session.label} missed a heartbeat (${this.opts.heartbeatMs} ms): dropping it (if its shards legitimately take longer, raise --heartbeat-ms)`);
        session.ws.terminate();
        this.onClose(session, 1006, 'heartbeat timeout');
        continue;
      }
      session.answeredPing = false;
      session.ws.ping();
    }
    this.noteWaiting();
  }

  private checkDeadlines(): void {
    const now = Date.now();
    for (const session of this.sessions.values()) {
      const overdue = [...session.inFlight.entries()].filter(([, f]) => now - f.sentAt > this.opts.taskTimeoutMs);
      if (overdue.length === 0) continue;
      for (const [key] of overdue) session.inFlight.delete(key);
      this.opts.log(`worker ${session.label} overran the ${this.opts.taskTimeoutMs} ms task deadline: requeued ${overdue.map(([k]) => k).join(', ')}`);
      this.requeue(overdue.map(([, f]) => f.task));
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
    for (const s of this.sessions.values()) if (s.state === 'ready') n++;
    return n;
  }

  /** Per-step counters (bytes, shards per worker, compute and CPU time), reset on each call. */
  takeStepStats(): StepStats {
    const stats = { bytesIn: this.bytesIn, bytesOut: this.bytesOut, shardsByWorker: this.shardsByWorker, workers: this.readyCount(), shardComputeMs: this.shardComputeMs, workerCpuMs: this.workerCpuMs };
    this.shardComputeMs = 0;
    this.workerCpuMs = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.shardsByWorker = {};
    return stats;
  }

  workers(): WorkerStatus[] {
    return [...this.sessions.values()].map((s) => ({
      id: s.id,
      name: s.info?.name ?? '',
      host: s.info?.host ?? s.remote,
      backend: s.info?.backend ?? '',
      state: s.state,
      shardsDone: s.shardsDone,
      meanShardMs: s.shardsDone > 0 ? s.computeMs / s.shardsDone : 0,
      inFlight: s.inFlight.size,
      lastSeen: new Date(s.lastSeen).toISOString(),
      connectedAt: new Date(s.connectedAt).toISOString(),
    }));
  }

  /** Tells every worker training is over and closes the connections. */
  close(reason: string): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const session of this.sessions.values()) {
      clearTimeout(session.handshakeTimer);
      if (session.state === 'ready' || session.state === 'welcomed') this.send(session, { type: 'done', reason });
      session.state = 'closed';
      session.ws.close(CLOSE_TRAINING_DONE, 'training is over');
    }
    this.sessions.clear();
  }
}
