import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeFrame, encodeMessage, type ResultMessage } from '@distgan/protocol';
import WebSocket, { WebSocketServer } from 'ws';

/** A result as the relay may alter it: the gradient (a copy) and the statistics. */
export type Tamper = (result: ResultMessage) => ResultMessage | undefined;

/**
 * A man in the middle between one worker and the coordinator, for tests of `--verify`: it
 * forwards every frame both ways and passes each result the worker sends through `tamper`
 * (undefined: forward it as it is). Real WebSockets on loopback.
 */
export class TamperingRelay {
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  tampered = 0;

  constructor(
    private readonly coordinatorUrl: string,
    private readonly tamper: Tamper,
  ) {
    this.server = createServer();
    this.wss = new WebSocketServer({ server: this.server, maxPayload: 256 * 1024 * 1024 });
    this.wss.on('connection', (worker) => this.relay(worker));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private relay(worker: WebSocket): void {
    const coordinator = new WebSocket(this.coordinatorUrl, { maxPayload: 256 * 1024 * 1024 });
    const pending: Buffer[] = [];
    coordinator.on('open', () => {
      for (const frame of pending.splice(0)) coordinator.send(frame);
    });
    coordinator.on('message', (data, isBinary) => worker.readyState === WebSocket.OPEN && worker.send(data as Buffer, { binary: isBinary }));
    worker.on('message', (data) => {
      const frame = this.alter(data as Buffer);
      if (coordinator.readyState === WebSocket.OPEN) coordinator.send(frame);
      else pending.push(frame);
    });
    const closeBoth = (code: number, reason: Buffer) => {
      const safe = code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000;
      if (worker.readyState === WebSocket.OPEN) worker.close(safe, reason.toString());
      if (coordinator.readyState === WebSocket.OPEN) coordinator.close(safe, reason.toString());
    };
    coordinator.on('close', closeBoth);
    worker.on('close', closeBoth);
    coordinator.on('error', () => worker.terminate());
    worker.on('error', () => coordinator.terminate());
  }

  private alter(frame: Buffer): Buffer {
    const message = decodeFrame(frame);
    if (message.type !== 'result') return frame;
    const bytes = message.gradient as Uint8Array;
    const result = { ...(message as unknown as ResultMessage), gradient: new Float32Array(new Uint8Array(bytes).buffer) };
    const altered = this.tamper(result);
    if (!altered) return frame;
    this.tampered++;
    return Buffer.from(encodeMessage(altered));
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
