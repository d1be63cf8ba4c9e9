import { createReadStream, existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { WorkerStatus } from './pool-options.js';
import type { StepMetrics } from '@distgan/run-store';

/** The body of GET /api/status. */
export interface StatusBody {
  readonly step: number;
  readonly steps: number;
  readonly running: boolean;
  readonly backend: string;
  readonly preset: string;
  readonly runDir: string;
  readonly lastSampleStep: number | null;
  readonly workers: readonly WorkerStatus[];
}

export interface ApiContext {
  readonly status: () => StatusBody;
  /** The Prometheus exposition of `GET /metrics`. */
  readonly prometheus: Registry;
  readonly metrics: () => readonly StepMetrics[];
  readonly latestSample: () => string | null;
  /** Serve the dashboard page and its assets (the JSON API is always on). */
  readonly dashboard: boolean;
}

const DASHBOARD_HTML = fileURLToPath(new URL('../dashboard/index.html', import.meta.url));
// chart.js does not export its UMD bundle path; it sits beside the CommonJS entry in dist/.
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

function file(res: ServerResponse, path: string, type: string): void {
  if (!existsSync(path)) return json(res, 404, { error: 'not found' });
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
  createReadStream(path).pipe(res);
}

/**
 * The one path served without the token: an engine's liveness and readiness probes cannot present
 * a secret (Kubernetes' httpGet probes take literal headers only), and it tells nothing but that
 * the process answers, its step and how many workers are connected.
 */
export const HEALTH_PATH = '/healthz';

/** The coordinator's HTTP API and dashboard (requests arrive already authenticated, but for `HEALTH_PATH`). */
export function handleHttp(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'only GET is supported' });
  switch (url.pathname) {
    case HEALTH_PATH: {
      // Liveness and readiness for an engine: the process answers, and what it is doing.
      const { running, step, steps, workers } = ctx.status();
      return json(res, 200, { status: 'ok', running, step, steps, workers: workers.filter((w) => w.state === 'ready' || w.state === 'set aside').length });
    }
    case '/metrics':
      ctx.prometheus.metrics().then(
        (text) => res.writeHead(200, { 'content-type': ctx.prometheus.contentType, 'cache-control': 'no-store' }).end(text),
        (err: unknown) => json(res, 500, { error: `metrics: ${(err as Error).message}` }),
      );
      return;
    case '/api/status':
      return json(res, 200, ctx.status());
    case '/api/metrics': {
      const raw = url.searchParams.get('since');
      const since = raw === null ? -1 : Number(raw);
      if (!Number.isInteger(since)) return json(res, 400, { error: 'since must be an integer step' });
      return json(
        res,
        200,
        ctx.metrics().filter((m) => m.step > since),
      );
    }
    case '/api/sample/latest': {
      const sample = ctx.latestSample();
      if (!sample) return json(res, 404, { error: 'no sample grid yet' });
      return file(res, sample, 'image/png');
    }
    case '/':
    case '/index.html':
      if (!ctx.dashboard) return json(res, 404, { error: 'the dashboard is off (--no-dashboard); the JSON API is at /api/status and /api/metrics' });
      return file(res, DASHBOARD_HTML, 'text/html; charset=utf-8');
    case '/assets/chart.umd.min.js':
      if (!ctx.dashboard) return json(res, 404, { error: 'the dashboard is off' });
      return file(res, CHART_JS, 'text/javascript');
    default:
      return json(res, 404, { error: `no such endpoint ${url.pathname}` });
  }
}
