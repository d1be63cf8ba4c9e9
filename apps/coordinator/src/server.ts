import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  /** Shared secret; undefined only on loopback (enforced by `checkListenPolicy`). */
  readonly token: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** Largest inbound frame; ws closes a connection that sends more (1009) before buffering it. */
  readonly maxPayload: number;
  readonly onSocket: (ws: import('ws').WebSocket, remote: string) => void;
  /** HTTP requests other than the WebSocket upgrade (already authenticated). */
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  /** ws:// or wss:// URL workers connect to. */
  readonly wsUrl: string;
  /** http(s):// URL of the dashboard. */
  readonly httpUrl: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** Refuses configurations that would let anyone on the network in. */
export function checkListenPolicy(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token) {
    throw new Error(`refusing to listen on ${host} without a token: anyone who can reach this port could join the run. Pass --token or set DISTGAN_TOKEN`);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Checks `Authorization: Bearer <token>` (or `?token=` for browsers, which cannot set headers on
 * page loads) in constant time: both sides are hashed to equal length first.
 */
export function isAuthorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const header = req.headers.authorization ?? '';
  const fromHeader = header.startsWith('Bearer ') ? header.slice(7) : '';
  const fromQuery = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
  const offered = fromHeader || fromQuery;
  return timingSafeEqual(digest(offered), digest(token));
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  checkListenPolicy(options.host, options.token);
  const tls = options.tlsCert && options.tlsKey ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) } : null;
  if ((options.tlsCert && !options.tlsKey) || (!options.tlsCert && options.tlsKey)) throw new Error('--tls-cert and --tls-key must be given together');
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (!isAuthorized(req, options.token)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('401 Unauthorized: this coordinator needs its token (?token=... or Authorization: Bearer ...)\n');
      return;
    }
    options.onRequest(req, res);
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload, perMessageDeflate: false });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    // Authentication happens here, before any WebSocket exists.
    if (!isAuthorized(req, options.token)) {
      reject(socket, 401, 'Unauthorized');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => options.onSocket(ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`));
  });
  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port, options.host, () => {
      server.off('error', rejectListen);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    server,
    port,
    wsUrl: `${tls ? 'wss' : 'ws'}://${shownHost}:${port}`,
    httpUrl: `${tls ? 'https' : 'http'}://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
