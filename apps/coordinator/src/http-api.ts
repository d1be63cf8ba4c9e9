import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunDirectory } from './run-dir.js';
import type { WorkerStatus } from './worker-pool.js';

export interface ApiContext {
  readonly status: () => { step: number; steps: number; running: boolean; backend: string; workers: WorkerStatus[] };
  readonly runDir: RunDirectory;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

/** The coordinator's HTTP API (requests arrive already authenticated). */
export function handleHttp(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET') return json(res, 405, { error: 'only GET is supported' });
  switch (url.pathname) {
    case '/api/status':
      return json(res, 200, ctx.status());
    case '/api/metrics': {
      const since = Number(url.searchParams.get('since') ?? '-1');
      if (!Number.isInteger(since)) return json(res, 400, { error: 'since must be an integer step' });
      return json(res, 200, ctx.runDir.readMetrics().filter((m) => m.step > since));
    }
    default:
      return json(res, 404, { error: `no such endpoint ${url.pathname}` });
  }
}
