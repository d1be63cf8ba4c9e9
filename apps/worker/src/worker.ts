import { hostname } from 'node:os';
import WebSocket from 'ws';
import { loadMnist, type MnistDataset } from '@distgan/mnist';
import {
  CLOSE_TRAINING_DONE,
  decodeCoordinatorMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  protocolError,
  ProtocolError,
  type CoordinatorMessage,
  type NetworkName,
  type WelcomeMessage,
  type WorkerMessage,
} from '@distgan/protocol';
import { CpuClock, traceFromEnv } from '@distgan/runtime';
import { ShardComputer } from '@distgan/training';
import { closeVerdict, openCoordinatorSocket, ReconnectBackoff } from './coordinator-socket.js';
import { readSnapshotFile } from './shared-folder.js';
import { checkWelcome } from './welcome.js';
import { ResultFrames } from './result-frames.js';
import { TaskQueue, type QueuedTask } from './task-queue.js';
import { FATAL_CODES, type WorkerOptions, type WorkerOutcome } from './worker-options.js';

/** DISTGAN_TRACE=DIR: frame arrivals, snapshot loads, compute and send times (docs/performance.md, "Where a step's time goes"). */
const trace = traceFromEnv('worker');

/**
 * A worker: connects, handshakes, computes the shard tasks it is given at the snapshot versions
 * it holds, and reconnects with exponential backoff when the coordinator goes away.
 */
export class Worker {
  private dataset: MnistDataset | undefined;
  private computer: ShardComputer | undefined;
  private computerHash: string | undefined;
  private ws: WebSocket | undefined;
  private stopping = false;
  private settle: ((outcome: WorkerOutcome) => void) | undefined;
  private readonly backoff = new ReconnectBackoff();
  private readonly tasks = new TaskQueue();
  private busy = false;
  private readonly resultFrames = new ResultFrames();
  private workerId = '';
  /** Where results go as files: set once this connection's coordinator sent a `snapshotFile` (null: frames). */
  private resultFolder: { readonly dir: string; readonly workerId: string } | null = null;
  /** Each result reports the process's CPU time since the previous one (`cpuMs`). */
  private readonly cpuClock = new CpuClock();
  shardsDone = 0;

  constructor(private readonly options: WorkerOptions) {}

  /** Runs until training is done, a fatal error, or `stop()`. */
  run(): Promise<WorkerOutcome> {
    this.dataset = loadMnist({ dataDir: this.options.dataDir });
    this.options.log(`MNIST fingerprint ${this.dataset.fingerprint.slice(0, 12)} (${this.dataset.count} images from ${this.dataset.source})`);
    return new Promise((resolve) => {
      this.settle = (outcome) => {
        this.settle = undefined;
        this.tasks.drop(() => true);
        this.computer?.dispose();
        resolve(outcome);
      };
      this.connect();
    });
  }

  stop(reason: string): void {
    this.stopping = true;
    this.ws?.close(1001, reason);
    this.settle?.({ kind: 'done', reason });
  }

  private connect(): void {
    if (this.stopping) return;
    const ws = openCoordinatorSocket(this.options);
    this.ws = ws;
    this.resultFolder = null;
    this.tasks.drop(() => true);
    let opened = false;
    ws.on('unexpected-response', (_req, res) => {
      if (res.statusCode === 401) {
        this.fatal('UNAUTHORIZED', `the coordinator at ${this.options.url} rejected the token (HTTP 401): pass the coordinator's --token or set DISTGAN_TOKEN`);
      } else {
        this.options.log(`coordinator answered HTTP ${res.statusCode} instead of upgrading`);
      }
      ws.terminate();
    });
    ws.on('open', () => {
      opened = true;
      this.backoff.connected();
      this.options.log(`connected to ${this.options.url}`);
      this.send({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        worker: { name: this.options.name, host: hostname(), pid: process.pid, backend: this.options.backend },
        snapshotDir: this.options.sharedSnapshots ?? null,
      });
    });
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    ws.on('error', (err) => {
      if (!opened) this.options.log(`cannot reach ${this.options.url}: ${err.message}`);
    });
    ws.on('close', (code, reasonBuf) => {
      const reason = reasonBuf.toString();
      if (this.ws === ws) this.ws = undefined;
      if (!this.settle || this.stopping) return;
      const verdict = closeVerdict(code, reason, opened);
      if (verdict.kind === 'done') return this.settle(verdict);
      if (verdict.kind === 'fatal') return this.fatal(verdict.code, verdict.reason);
      if (verdict.lost) {
        this.backoff.lost();
        this.options.log(`disconnected (close ${code}${reason ? `: ${reason}` : ''}); reconnecting`);
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const waited = this.backoff.waitedMs;
    if (this.options.giveUpAfterMs > 0 && waited > this.options.giveUpAfterMs) {
      this.fatal('GAVE_UP', `no coordinator at ${this.options.url} for ${Math.round(waited / 1000)}s`);
      return;
    }
    setTimeout(() => this.connect(), this.backoff.next()); // connect() does nothing once stop() was called
  }

  private fatal(code: string, message: string): void {
    this.stopping = true;
    this.options.log(`fatal: ${code}: ${message}`);
    this.ws?.terminate();
    this.settle?.({ kind: 'fatal', code, message });
  }

  private send(message: WorkerMessage): void {
    this.ws?.send(encodeMessage(message), { binary: true });
  }

  /** Tells the coordinator why, then closes with the error's close code. */
  private reject(err: ProtocolError): void {
    this.options.log(`closing: ${err.message}`);
    this.send({ type: 'error', code: err.code, message: err.detail });
    this.ws?.close(err.closeCode, err.closeReason);
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (!isBinary) return this.reject(protocolError('BAD_FRAME', 'text frame from the coordinator'));
    trace('frame', { bytes: data.byteLength });
    let message: CoordinatorMessage;
    try {
      message = decodeCoordinatorMessage(data);
    } catch (err) {
      if (err instanceof ProtocolError) return this.reject(err);
      throw err;
    }
    switch (message.type) {
      case 'welcome':
        return this.onWelcome(message);
      case 'snapshot':
        // The weights are a view of the frame ws received, memory nothing else writes.
        return this.onSnapshot(message.net, message.version, () => message.weights);
      case 'snapshotFile':
        if (this.options.sharedSnapshots && (this.options.resultFiles ?? this.options.backend === 'node')) {
          this.resultFolder = { dir: this.options.sharedSnapshots, workerId: this.workerId };
        }
        return this.onSnapshot(message.net, message.version, () => readSnapshotFile(this.options.sharedSnapshots, message.file));
      case 'task':
        if (!this.computer) return this.reject(protocolError('UNEXPECTED_MESSAGE', 'task before welcome'));
        if (this.ws) this.tasks.push({ task: message, ws: this.ws });
        this.drain();
        return;
      case 'done':
        this.options.log(`coordinator says done: ${message.reason}`);
        this.stopping = true;
        this.ws?.close(CLOSE_TRAINING_DONE, 'done');
        this.settle?.({ kind: 'done', reason: message.reason });
        return;
      case 'error':
        this.options.log(`coordinator reported ${message.code}: ${message.message}`);
        if (FATAL_CODES.has(message.code)) this.fatal(message.code, message.message);
        return;
      default: {
        const unknown: never = message;
        throw new Error(`unhandled message ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Loads a snapshot whose weights `read` returns (memory nothing else holds), or closes if they do not fit. */
  private onSnapshot(net: NetworkName, version: number, read: () => Float32Array | null): void {
    if (!this.computer) return this.reject(protocolError('UNEXPECTED_MESSAGE', 'snapshot before welcome'));
    try {
      const weights = read();
      if (!weights) return; // a shared file already deleted: a newer version is on its way
      this.computer.networks.load(net, version, weights, true);
      trace('loaded', { net, version });
    } catch (err) {
      return this.reject(protocolError('BAD_FIELD', `snapshot of ${net}: ${(err as Error).message}`));
    }
    this.drain(); // a task may have been waiting for it
  }

  private onWelcome(welcome: WelcomeMessage): void {
    const dataset = this.dataset;
    if (!dataset) return this.reject(protocolError('UNEXPECTED_MESSAGE', 'welcome before the MNIST files loaded'));
    const checked = checkWelcome(welcome, dataset);
    if (checked instanceof ProtocolError) return this.reject(checked);
    const { config, hash } = checked;
    if (this.computerHash !== hash) {
      this.computer?.dispose();
      [this.computer, this.computerHash] = [undefined, undefined];
      try {
        this.computer = new ShardComputer(config, dataset, { log: this.options.log });
      } catch (err) {
        return this.reject(protocolError('CONFIG_MISMATCH', `cannot train this run here: ${(err as Error).message}`));
      }
      this.computerHash = hash;
    }
    this.workerId = welcome.workerId;
    this.options.log(`joined as ${welcome.workerId}: preset ${config.preset}, B=${config.batchSize}, K=${config.shards}`);
    this.send({ type: 'ready', configHash: hash, datasetFingerprint: dataset.fingerprint });
  }

  /**
   * Computes queued tasks one at a time: first any whose snapshots are loaded, in arrival order.
   * When none is, a D task sent ahead of G's snapshot gets its real images' share computed (it
   * needs D's snapshot only), so that only the rest is left when G's arrives. A task needing an
   * older snapshot than the one loaded is dropped: the coordinator sends a network's next version
   * only once every task of the old one is done (by this worker or, after a requeue, another).
   * After a result it waits until ws has handed the frame to the kernel before the next task:
   * JavaScript cannot write to a socket while it computes, so a queued megabyte would wait.
   */
  private drain(): void {
    const computer = this.computer;
    if (this.busy || !computer) return;
    const held = { D: computer.networks.version('D'), G: computer.networks.version('G') };
    // A task from a connection that has since dropped was requeued by the coordinator: skip it.
    this.tasks.drop(({ task, ws }) => ws !== this.ws || ws.readyState !== WebSocket.OPEN || task.dVersion < held.D || task.gVersion < held.G);
    const entry = this.tasks.takeReady(held);
    if (entry) {
      this.busy = true;
      if (this.options.delayMs > 0) setTimeout(() => this.computeTask(computer, entry), this.options.delayMs);
      else setImmediate(() => this.computeTask(computer, entry));
      return;
    }
    const ahead = this.tasks.ahead(held);
    if (!ahead) return; // a snapshot or task arriving calls drain again
    this.busy = true;
    setImmediate(() => this.computeShareAhead(computer, ahead));
  }

  /** Ends one turn of `drain` and schedules the next. */
  private next(): void {
    this.busy = false;
    setImmediate(() => this.drain());
  }

  /** The real images' share of a D task queued ahead of G's snapshot, if it is still queued and D unchanged. */
  private computeShareAhead(computer: ShardComputer, ahead: QueuedTask): void {
    // A frame handled since `drain` may have dropped it.
    if (this.tasks.includes(ahead) && computer.networks.version('D') === ahead.task.dVersion) {
      const { task } = ahead;
      try {
        trace('shareStart', { step: task.step, phase: task.phase, shard: task.shard });
        ahead.share = computer.computeRealShare(task);
        trace('shareEnd', { step: task.step, phase: task.phase, shard: task.shard });
      } catch (err) {
        this.reject(protocolError('WORKER_FAILED', `task ${task.step}/${task.phase}/${task.shard}: ${(err as Error).message}`));
      }
    }
    this.next();
  }

  /** Computes `entry` and sends its result; the next turn starts once ws has handed the frame over. */
  private computeTask(computer: ShardComputer, entry: QueuedTask): void {
    const { task, ws } = entry;
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) {
      entry.share?.gradient.dispose();
      return this.next();
    }
    let sent = false;
    try {
      trace('computeStart', { step: task.step, phase: task.phase, shard: task.shard });
      // The gradient stays in the backend's memory until it is encoded (computeWith).
      computer.computeWith(task, entry.share, (result) => {
        trace('computeEnd', { step: task.step, phase: task.phase, shard: task.shard });
        this.shardsDone++;
        if (ws.readyState !== WebSocket.OPEN) return;
        const frame = this.resultFrames.frameOf(result, this.cpuClock.lap(), this.resultFolder);
        ws.send(frame, { binary: true }, () => {
          trace('sent', { step: task.step, phase: task.phase, shard: task.shard });
          this.next();
        });
        sent = true;
      });
    } catch (err) {
      this.reject(protocolError('WORKER_FAILED', `task ${task.step}/${task.phase}/${task.shard}: ${(err as Error).message}`));
    }
    if (!sent) this.next();
  }
}
