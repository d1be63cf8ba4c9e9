import WebSocket from 'ws';
import { decodeFrame, encodeMessage, PROTOCOL_VERSION, type WorkerMessage } from '@distgan/protocol';

/** A real WebSocket client that speaks (or abuses) the protocol by hand, for hostile-input tests. */
export class RawClient {
  readonly ws: WebSocket;
  readonly inbox: Record<string, unknown>[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(url: string, token?: string) {
    this.ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, maxPayload: 256 * 1024 * 1024 });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data) => {
      try {
        this.inbox.push(decodeFrame(data as Buffer));
      } catch {
        this.inbox.push({ type: '<undecodable>' });
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.ws.on('error', () => undefined);
  }

  sendRaw(frame: Uint8Array | string): void {
    this.ws.send(frame, { binary: typeof frame !== 'string' });
  }

  send(message: WorkerMessage | Record<string, unknown>): void {
    this.sendRaw(encodeMessage(message as WorkerMessage));
  }

  /** Waits for the first inbound message of `type` (resolves with it). */
  async next(type: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.inbox.find((m) => m.type === type);
      if (found) {
        this.inbox.splice(this.inbox.indexOf(found), 1);
        return found;
      }
      if (Date.now() > deadline || this.ws.readyState === WebSocket.CLOSED)
        throw new Error(`no ${type} message (inbox: ${this.inbox.map((m) => m.type).join(',')})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  /** `snapshotDir`: the shared folder it claims to have been started with (a local worker's). */
  hello(protocol = PROTOCOL_VERSION, snapshotDir: string | null = null): void {
    this.send({ type: 'hello', protocol, worker: { name: 'raw', host: 'test', pid: process.pid, backend: 'none' }, snapshotDir });
  }

  /** Full handshake as a legitimate worker would; resolves with the welcome. */
  async handshake(snapshotDir: string | null = null): Promise<Record<string, unknown>> {
    await this.opened;
    this.hello(PROTOCOL_VERSION, snapshotDir);
    const welcome = await this.next('welcome');
    this.send({ type: 'ready', configHash: welcome.configHash as string, datasetFingerprint: welcome.datasetFingerprint as string });
    return welcome;
  }
}
