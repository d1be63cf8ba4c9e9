import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { WorkerOptions } from './worker-options.js';

/** A WebSocket to the coordinator, with the token, the CA to trust and no compression. */
export function openCoordinatorSocket(options: Pick<WorkerOptions, 'url' | 'token' | 'ca'>): WebSocket {
  return new WebSocket(options.url, {
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    perMessageDeflate: false,
    ...(options.ca ? { ca: readFileSync(options.ca) } : {}),
    maxPayload: 256 * 1024 * 1024,
    // An all-zero mask makes ws skip masking here and unmasking at the coordinator (megabytes per
    // result). Masking protects HTTP intermediaries from scripts in browsers; this client is not
    // one, and wss is what protects the bytes.
    generateMask: (mask: Buffer) => void mask.fill(0),
  });
}

/** Reconnection delays: 0.25 s doubling to 5 s, and how long the worker has been without a coordinator. */
export class ReconnectBackoff {
  private delayMs = 250;
  private since = Date.now();

  /** Connected: the next loss starts from the shortest delay. */
  connected(): void {
    this.delayMs = 250;
  }

  /** The connection was lost now. */
  lost(): void {
    this.since = Date.now();
  }

  /** Milliseconds without a connection. */
  get waitedMs(): number {
    return Date.now() - this.since;
  }

  /** The delay before the next attempt (each one doubles the next, up to 5 s). */
  next(): number {
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, 5_000);
    return delay;
  }
}
