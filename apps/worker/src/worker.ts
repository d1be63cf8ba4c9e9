import { hostname } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { loadMnist, type MnistDataset } from '@distgan/mnist';
import {
  CLOSE_TRAINING_DONE,
  codeForClose,
  decodeCoordinatorMessage,
  encodeMessage,
  FrameBuffer,
  PROTOCOL_VERSION,
  protocolError,
  resultFileName,
  ProtocolError,
  type CoordinatorMessage,
  type NetworkName,
  type TaskMessage,
  type WelcomeMessage,
  type WorkerMessage,
} from '@distgan/protocol';
import { CpuClock, traceFromEnv } from '@distgan/runtime';
import { runConfigHash, ShardComputer, validateRunConfig, type RealShare, type RunConfig, type ShardResult } from '@distgan/training';

/** DISTGAN_TRACE=DIR: frame arrivals, snapshot loads, compute and send times (docs/performance.md, "Where a step's time goes"). */
const trace = traceFromEnv('worker');

export interface WorkerOptions {
  readonly url: string;
  readonly token: string | undefined;
  readonly name: string;
  readonly backend: string;
  readonly dataDir: string | undefined;
  /** PEM file of a CA (or self-signed certificate) to trust for wss://. */
  readonly ca: string | undefined;
  /** Artificial delay per task, for tests of heterogeneous workers. */
  readonly delayMs: number;
  /** The coordinator's shared-snapshot folder (a local worker), where snapshots may come as files. */
  readonly sharedSnapshots?: string | undefined;
  /**
   * Return gradients as files in that folder too, when the coordinator sends snapshots there
   * (default: on the node backend only; see docs/performance.md, "Local workers").
   */
  readonly resultFiles?: boolean | undefined;
  /** Give up after this long without a connection (0: never). */
  readonly giveUpAfterMs: number;
  readonly log: (message: string) => void;
}

/** Why the worker stopped: done (exit 0) or a fatal error the user must fix (exit non-zero). */
export type WorkerOutcome = { readonly kind: 'done'; readonly reason: string } | { readonly kind: 'fatal'; readonly code: string; readonly message: string };

/** Close codes after which reconnecting cannot help. */
const FATAL_CODES = new Set(['PROTOCOL_MISMATCH', 'CONFIG_MISMATCH', 'DATASET_MISMATCH']);

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
  private backoffMs = 250;
  private disconnectedSince = Date.now();
  /**
   * Queued tasks with the connection they came on (a result goes back only on that one) and, for
   * a D task that arrived ahead of G's snapshot, its real images' share once computed.
   */
  private tasks: QueuedTask[] = [];
  private busy = false;
  /** Memory every result frame is encoded into (one at a time: see `drain`). */
  private readonly resultFrame = new FrameBuffer();
  /**
   * This connection's coordinator sends snapshots as files in the shared folder (it sent a
   * `snapshotFile`), so results go back the same way (`resultFile`), named after `workerId`.
   */
  private sharedResults = false;
  private workerId = '';
  private resultFiles = 0;
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
        this.dropTasks(() => true);
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
    const headers: Record<string, string> = this.options.token ? { authorization: `Bearer ${this.options.token}` } : {};
    const ws = new WebSocket(this.options.url, {
      headers,
      perMessageDeflate: false,
      ...(this.options.ca ? { ca: readFileSync(this.options.ca) } : {}),
      maxPayload: 256 * 1024 * 1024,
      // An all-zero mask makes ws skip masking here and unmasking at the coordinator (megabytes per
      // result). Masking protects HTTP intermediaries from scripts in browsers; this client is not
      // one, and wss is what protects the bytes.
      generateMask: (mask: Buffer) => void mask.fill(0),
    });
    this.ws = ws;
    this.sharedResults = false;
    this.dropTasks(() => true);
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
      this.backoffMs = 250;
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
      if (code === CLOSE_TRAINING_DONE && opened) {
        this.settle({ kind: 'done', reason: reason || 'coordinator closed the connection' });
        return;
      }
      const known = codeForClose(code);
      if (known && FATAL_CODES.has(known)) {
        this.fatal(known, reason);
        return;
      }
      if (opened) {
        this.disconnectedSince = Date.now();
        this.options.log(`disconnected (close ${code}${reason ? `: ${reason}` : ''}); reconnecting`);
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const waited = Date.now() - this.disconnectedSince;
    if (this.options.giveUpAfterMs > 0 && waited > this.options.giveUpAfterMs) {
      this.fatal('GAVE_UP', `no coordinator at ${this.options.url} for ${Math.round(waited / 1000)}s`);
      return;
    }
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
    setTimeout(() => this.connect(), delay); // connect() does nothing once stop() was called
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
        this.sharedResults = this.options.sharedSnapshots !== undefined && (this.options.resultFiles ?? this.options.backend === 'node');
        return this.onSnapshot(message.net, message.version, () => this.readSharedSnapshot(message.file));
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

  /**
   * A `snapshotFile`'s weights: the file's bytes as float32, or null when the file is gone, which
   * happens only to a version two behind the coordinator's latest, whose tasks are all done. The
   * values are not scanned for NaN: they come from this machine's coordinator, which checks every
   * sum before Adam, and a bad weight would only make this worker's results refused.
   */
  private readSharedSnapshot(file: string): Float32Array | null {
    const dir = this.options.sharedSnapshots;
    if (!dir) throw new Error(`a snapshot file (${file}) came, but this worker was started without a shared folder`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(dir, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        trace('snapshotGone', { file });
        return null;
      }
      throw err;
    }
    if (bytes.byteLength % 4 !== 0) throw new Error(`${file} holds ${bytes.byteLength} bytes, not a whole number of float32 values`);
    // A file this large gets memory of its own from readFileSync; copy only if it did not.
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
    return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  }

  private onWelcome(welcome: WelcomeMessage): void {
    const config = welcome.config as unknown as RunConfig;
    try {
      validateRunConfig(config);
    } catch (err) {
      return this.reject(protocolError('CONFIG_MISMATCH', `coordinator's run config is not valid here: ${(err as Error).message}`));
    }
    const hash = runConfigHash(config);
    if (hash !== welcome.configHash) {
      return this.reject(
        protocolError(
          'CONFIG_MISMATCH',
          `run config hashes to ${hash.slice(0, 12)} here but ${welcome.configHash.slice(0, 12)} at the coordinator (different distgan versions?)`,
        ),
      );
    }
    const fingerprint = this.dataset!.fingerprint;
    if (fingerprint !== welcome.datasetFingerprint) {
      return this.reject(
        protocolError(
          'DATASET_MISMATCH',
          `local MNIST (${this.dataset!.source}) has fingerprint ${fingerprint.slice(0, 12)}, the coordinator's is ${welcome.datasetFingerprint.slice(0, 12)}: use the same files (--data-dir)`,
        ),
      );
    }
    if (this.computerHash !== hash) {
      this.computer?.dispose();
      this.computer = undefined;
      this.computerHash = undefined;
      try {
        this.computer = new ShardComputer(config, this.dataset!, { log: this.options.log });
      } catch (err) {
        return this.reject(protocolError('CONFIG_MISMATCH', `cannot train this run here: ${(err as Error).message}`));
      }
      this.computerHash = hash;
    }
    this.workerId = welcome.workerId;
    this.options.log(`joined as ${welcome.workerId}: preset ${config.preset}, B=${config.batchSize}, K=${config.shards}`);
    this.send({ type: 'ready', configHash: hash, datasetFingerprint: fingerprint });
  }

  /** Removes the queued tasks `which` selects, freeing their real-image shares. */
  private dropTasks(which: (entry: QueuedTask) => boolean): void {
    const kept: QueuedTask[] = [];
    for (const entry of this.tasks) {
      if (which(entry)) entry.share?.gradient.dispose();
      else kept.push(entry);
    }
    this.tasks = kept;
  }

  /**
   * Computes queued tasks one at a time: first any whose snapshots are loaded, in arrival order.
   * When none is, a D task sent ahead of G's snapshot gets its real images' share computed (it
   * needs D's snapshot only), so that only the rest is left when G's arrives. A task needing an
   * older snapshot than the one loaded is dropped: the coordinator sends a network's next version
   * only once every task of the old one is done (by this worker or, after a requeue, another).
   * After sending a result it waits until ws has handed the frame to the kernel before computing
   * the next one: JavaScript cannot write to a socket while it computes, so a megabyte result
   * left queued would otherwise sit until the next shard ends.
   */
  private drain(): void {
    const computer = this.computer;
    if (this.busy || !computer) return;
    const held = { D: computer.networks.version('D'), G: computer.networks.version('G') };
    // A task from a connection that has since dropped was requeued by the coordinator: skip it.
    this.dropTasks(({ task, ws }) => ws !== this.ws || ws.readyState !== WebSocket.OPEN || task.dVersion < held.D || task.gVersion < held.G);
    const next = () => {
      this.busy = false;
      setImmediate(() => this.drain());
    };
    const ready = this.tasks.findIndex(({ task }) => task.dVersion === held.D && task.gVersion === held.G);
    if (ready < 0) {
      const ahead = this.tasks.find(({ task, share }) => task.phase === 'D' && task.dVersion === held.D && !share);
      if (!ahead) return; // a snapshot or task arriving calls drain again
      this.busy = true;
      setImmediate(() => {
        // Still queued, and D unchanged? (A frame handled in between may have dropped it.)
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
        next();
      });
      return;
    }
    const [entry] = this.tasks.splice(ready, 1) as [QueuedTask];
    const { task, ws } = entry;
    this.busy = true;
    const run = () => {
      if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) {
        entry.share?.gradient.dispose();
        return next();
      }
      let sent = false;
      try {
        trace('computeStart', { step: task.step, phase: task.phase, shard: task.shard });
        // The gradient stays in the backend's memory until it is encoded (computeWith).
        computer.computeWith(task, entry.share, (result) => {
          trace('computeEnd', { step: task.step, phase: task.phase, shard: task.shard });
          this.shardsDone++;
          if (ws.readyState !== WebSocket.OPEN) return;
          const frame = this.resultFrameOf(result);
          ws.send(frame, { binary: true }, () => {
            trace('sent', { step: task.step, phase: task.phase, shard: task.shard });
            next();
          });
          sent = true;
        });
      } catch (err) {
        this.reject(protocolError('WORKER_FAILED', `task ${task.step}/${task.phase}/${task.shard}: ${(err as Error).message}`));
      }
      if (!sent) next();
    };
    if (this.options.delayMs > 0) setTimeout(run, this.options.delayMs);
    else setImmediate(run);
  }

  /**
   * The frame for `result`: the gradient in a file of the shared folder and a small `resultFile`
   * frame when the coordinator uses it, else a `result` frame encoded into memory the next result
   * reuses (safe: the next task waits for this send's callback, `drain`).
   */
  private resultFrameOf(result: ShardResult): Uint8Array {
    const cpuMs = this.cpuClock.lap();
    const dir = this.options.sharedSnapshots;
    if (this.sharedResults && dir) {
      const { gradient, ...fields } = result;
      const file = resultFileName(this.workerId, ++this.resultFiles);
      writeFileSync(join(dir, file), new Uint8Array(gradient.buffer, gradient.byteOffset, gradient.byteLength));
      trace('resultWritten', { bytes: gradient.byteLength });
      return encodeMessage({ type: 'resultFile', ...fields, cpuMs, file });
    }
    const frame = encodeMessage({ type: 'result', ...result, cpuMs }, this.resultFrame);
    trace('encoded', { bytes: frame.byteLength });
    return frame;
  }
}

interface QueuedTask {
  readonly task: TaskMessage;
  readonly ws: WebSocket;
  share?: RealShare;
}
