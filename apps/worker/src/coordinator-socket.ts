import { readFileSync } from 'node:fs';
import { CLOSE_TRAINING_DONE, codeForClose } from '@distgan/protocol';
import WebSocket from 'ws';
import { FATAL_CODES, type WorkerOptions } from './worker-options.js';

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

/** What a closed connection to the coordinator means for the worker. */
export type CloseVerdict =
  | { readonly kind: 'done'; readonly reason: string }
  | { readonly kind: 'fatal'; readonly code: string; readonly reason: string }
  /** Try again; `lost`: a connection that was open is gone (the backoff restarts its clock). */
  | { readonly kind: 'reconnect'; readonly lost: boolean };

/**
 * A close with `code` and `reason` of a connection that `opened` or not: training over (the
 * coordinator's own close after the connection opened), a refusal reconnecting cannot help
 * (`FATAL_CODES`), or anything else, which a reconnection may outlast.
 */
export function closeVerdict(code: number, reason: string, opened: boolean): CloseVerdict {
  if (code === CLOSE_TRAINING_DONE && opened) return { kind: 'done', reason: reason || 'coordinator closed the connection' };
  const known = codeForClose(code);
  if (known && FATAL_CODES.has(known)) return { kind: 'fatal', code: known, reason };
  return { kind: 'reconnect', lost: opened };
}
