import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { lookup } from 'node:dns/promises';
import { BlockList, isIPv4, isIPv6, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { HEALTH_PATH } from './http-api.js';

export interface ServerOptions {
  /** Where and how to listen, checked once (`planListen`). */
  readonly listen: ListenPlan;
  readonly port: number;
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

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether `address` (an IP address; a name is not one) is loopback: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. */
export function isLoopbackAddress(address: string): boolean {
  if (isIPv4(address)) return LOOPBACK.check(address, 'ipv4');
  return isIPv6(address) && LOOPBACK.check(address, 'ipv6');
}

/**
 * Refuses to listen where anyone on the network could join without a token. The decision is on
 * the addresses the host resolves to (every one must be loopback), never on how its name looks:
 * `127.attacker.example` is whatever its DNS says.
 */
export async function checkListenPolicy(host: string, token: string | undefined, resolve: (host: string) => Promise<string[]> = resolveAll): Promise<void> {
  if (token) return;
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch (err) {
    throw new Error(`cannot resolve --host ${host}: ${(err as Error).message}`);
  }
  const outside = addresses.filter((a) => !isLoopbackAddress(a));
  if (addresses.length === 0 || outside.length > 0) {
    const where = outside.length > 0 && outside[0] !== host ? ` (${outside.join(', ')})` : '';
    throw new Error(
      `refusing to listen on ${host}${where} without a token: anyone who can reach this port could join the run. Pass --token or set DISTGAN_TOKEN`,
    );
  }
}

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Checks `Authorization: Bearer <token>` (or `?token=` for browsers, which cannot set headers on
 * page loads; the header wins when both are given) in constant time: both sides are hashed to
 * equal length first.
 */
export function isAuthorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const header = req.headers.authorization ?? '';
  // RFC 7235: the scheme is case-insensitive ("Bearer", "bearer").
  const fromHeader = /^bearer /i.test(header) ? header.slice(7) : '';
  const fromQuery = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
  const offered = fromHeader || fromQuery;
  return timingSafeEqual(digest(offered), digest(token));
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
}

/** Where the server listens, with what secret and certificate: made only by `planListen`, which checked it. */
export interface ListenPlan {
  readonly host: string;
  /** Shared secret; undefined only on loopback. */
  readonly token: string | undefined;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | null;
}

/** The TLS files as given on the command line. */
export interface TlsFiles {
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
}

/** Checks the listen policy (`checkListenPolicy`) and reads the TLS files: everything that can refuse to listen, before anything starts. */
export async function planListen(host: string, token: string | undefined, files: TlsFiles): Promise<ListenPlan> {
  await checkListenPolicy(host, token);
  return { host, token, tls: readTlsFiles(files) };
}

/** The TLS certificate and key, read (null without TLS); a clear error when only one is given or a file cannot be read. */
export function readTlsFiles(options: TlsFiles): { cert: Buffer; key: Buffer } | null {
  if (!options.tlsCert && !options.tlsKey) return null;
  if (!options.tlsCert || !options.tlsKey) throw new Error('--tls-cert and --tls-key must be given together');
  const read = (flag: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { cert: read('--tls-cert', options.tlsCert), key: read('--tls-key', options.tlsKey) };
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { host, token, tls } = options.listen;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== HEALTH_PATH && !isAuthorized(req, token)) {
      res
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' })
        .end('401 Unauthorized: this coordinator needs its token (?token=... or Authorization: Bearer ...)\n');
      return;
    }
    options.onRequest(req, res);
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload, perMessageDeflate: false });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    // Authentication happens here, before any WebSocket exists.
    if (!isAuthorized(req, token)) {
      reject(socket, 401, 'Unauthorized');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => options.onSocket(ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`));
  });
  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port, host, () => {
      server.off('error', rejectListen);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
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
