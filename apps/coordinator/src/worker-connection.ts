import type { WebSocket } from 'ws';
import {
  encodeMessage,
  protocolError,
  type CoordinatorMessage,
  type HelloMessage,
  type NetworkName,
  type ProtocolError,
  type ReadyMessage,
  type WorkerInfo,
} from '@distgan/protocol';
import { printable } from './log-text.js';

/** Where a connection is in the handshake: hello -> welcomed (welcome sent) -> ready; or closed. */
export type ConnectionState = 'hello' | 'welcomed' | 'ready' | 'closed';

/**
 * One worker's WebSocket as the coordinator sees it: handshake state, liveness (pings answered,
 * last frame) and sending, with the counters the dashboard shows. Scheduling lives in
 * `Scheduler`; this class knows nothing of tasks.
 */
export class WorkerConnection {
  state: ConnectionState = 'hello';
  info: WorkerInfo | undefined;
  /** The snapshot version of each network this worker holds (-1: none yet). */
  readonly versions: Record<NetworkName, number> = { D: -1, G: -1 };
  /** It reads snapshots from the coordinator's shared folder (`snapshotFile`) rather than the socket. */
  sharedSnapshots = false;
  shardsDone = 0;
  computeMs = 0;
  /** `error` messages received: the first few are logged, a flood closes the connection (`WorkerPool`). */
  errorsReceived = 0;
  lastSeen = Date.now();
  readonly connectedAt = Date.now();
  private answeredPing = true;
  private handshakeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    readonly remote: string,
  ) {
    ws.on('pong', () => {
      this.answeredPing = true;
      this.lastSeen = Date.now();
    });
  }

  /** For logs: id, and the worker's own name, host and pid once it said hello (made printable). */
  get label(): string {
    return this.info ? `${this.id} (${printable(this.info.name)}@${printable(this.info.host)}, pid ${this.info.pid})` : `${this.id} (${this.remote})`;
  }

  /** Calls `onTimeout` unless the handshake completes within `ms`. */
  startHandshakeTimer(ms: number, onTimeout: () => void): void {
    this.handshakeTimer = setTimeout(() => {
      if (this.state === 'hello' || this.state === 'welcomed') onTimeout();
    }, ms);
  }

  /**
   * Takes the worker's `hello` (who it is, and whether it reads `sharedDir`, the coordinator's
   * shared folder); returns why it cannot, or null when the coordinator now welcomes it.
   */
  hello(message: HelloMessage, sharedDir: string | undefined): ProtocolError | null {
    if (this.state !== 'hello') return protocolError('UNEXPECTED_MESSAGE', 'hello sent twice');
    this.info = message.worker;
    this.sharedSnapshots = message.snapshotDir !== null && message.snapshotDir === sharedDir;
    this.state = 'welcomed';
    return null;
  }

  /**
   * Why this connection's `ready` cannot join the run: sent out of turn, or for another run config
   * or other MNIST files than the coordinator's (`expected`); null when it can.
   */
  readyError(ready: ReadyMessage, expected: Pick<ReadyMessage, 'configHash' | 'datasetFingerprint'>): ProtocolError | null {
    if (this.state !== 'welcomed') return protocolError('UNEXPECTED_MESSAGE', this.state === 'ready' ? 'ready sent twice' : 'ready before welcome');
    if (ready.configHash !== expected.configHash) {
      return protocolError(
        'CONFIG_MISMATCH',
        `worker's config hash ${ready.configHash.slice(0, 12)} != coordinator's ${expected.configHash.slice(0, 12)} (different distgan versions?)`,
      );
    }
    if (ready.datasetFingerprint !== expected.datasetFingerprint) {
      return protocolError(
        'DATASET_MISMATCH',
        `worker's MNIST fingerprint ${ready.datasetFingerprint.slice(0, 12)} != coordinator's ${expected.datasetFingerprint.slice(0, 12)}`,
      );
    }
    return null;
  }

  markReady(): void {
    clearTimeout(this.handshakeTimer);
    this.state = 'ready';
  }

  /** Sends one frame; returns its size. `onSent` runs once the kernel has the bytes (or the socket is gone). */
  send(message: CoordinatorMessage | Uint8Array, onSent?: () => void): number {
    const frame = message instanceof Uint8Array ? message : encodeMessage(message);
    this.ws.send(frame, { binary: true }, onSent);
    return frame.byteLength;
  }

  /** One heartbeat: false when the previous ping went unanswered (the worker is frozen or gone), else pings again. */
  heartbeat(): boolean {
    if (!this.answeredPing) return false;
    this.answeredPing = false;
    this.ws.ping();
    return true;
  }

  /** Marks the connection closed (idempotent); returns false if it already was. */
  markClosed(): boolean {
    if (this.state === 'closed') return false;
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
    return true;
  }

  close(code: number, reason: string): void {
    this.markClosed();
    this.ws.close(code, reason);
  }
}
