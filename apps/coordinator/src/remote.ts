import type { ChildProcess } from 'node:child_process';
import { parameterCount, parameterSpec } from '@distgan/models';
import { shardGradientBound } from '@distgan/optim';
import { maxFrameBytes, type WorkerMessageLimits } from '@distgan/protocol';
import type { RunConfig } from '@distgan/training';
import { handleHttp, type StatusBody } from './http-api.js';
import { spawnLocalWorkers, stopLocalWorkers } from './local-workers.js';
import { prometheusRegistry } from './prometheus.js';
import { isLoopbackAddress, startServer, type ListenPlan, type RunningServer } from './server.js';
import { SharedSnapshots } from './shared-snapshots.js';
import type { ResultChecker } from './verification.js';
import { WorkerPool } from './worker-pool.js';
import type { StepMetrics } from '@distgan/run-store';

/** `DISTGAN_SHARED_SNAPSHOTS=off`: local workers take snapshots over their sockets like remote ones (the bench compares both). */
export const SHARED_SNAPSHOTS_ENV = 'DISTGAN_SHARED_SNAPSHOTS';

export interface RemoteOptions {
  /** Address to listen on; beyond loopback a token is required. */
  readonly host: string;
  readonly port: number;
  readonly token?: string | undefined;
  /** The certificate and key files (`--tls-cert`, `--tls-key`); local workers trust the certificate. */
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly workers: number;
  /** Workers that must have joined before the first step (later steps run with whoever is there). */
  readonly minWorkers?: number | undefined;
  readonly backend: string;
  readonly dataDir?: string | undefined;
  readonly taskTimeoutMs: number;
  readonly heartbeatMs: number;
  /** Serve the dashboard page on the HTTP port (the JSON API is always served). */
  readonly dashboard: boolean;
  /** Extra flags passed to local workers (tests: --delay-ms). */
  readonly workerArgs?: readonly string[] | undefined;
  /** The environment local workers start from (default: this process's as the user gave it; see `LocalWorkerOptions.env`). */
  readonly workerEnv?: NodeJS.ProcessEnv | undefined;
  /** `--verify`: what checks workers' results (none: unchecked). */
  readonly checker?: ResultChecker | null | undefined;
  /**
   * Local workers read snapshots from files in a folder on this machine instead of the socket
   * (default: yes, unless `DISTGAN_SHARED_SNAPSHOTS=off`).
   */
  readonly sharedSnapshots?: boolean | undefined;
}

/** What the HTTP API shows, supplied by the training loop. */
export interface RunView {
  readonly status: () => Omit<StatusBody, 'workers'>;
  readonly metrics: () => readonly StepMetrics[];
  readonly latestSample: () => string | null;
}

export interface Remote {
  readonly pool: WorkerPool;
  /** Tells workers training is over, ends local workers by pid, closes the server. */
  close(reason: string): Promise<void>;
}

/** The folder for local workers, or null (they then use their sockets) when the temporary folder refuses one. */
function sharedFolder(log: (message: string) => void): SharedSnapshots | null {
  try {
    return new SharedSnapshots();
  } catch (err) {
    log(`cannot create a folder to share with local workers (${(err as Error).message}): they take snapshots over their sockets`);
    return null;
  }
}

/**
 * The distributed side of a run: the worker pool, the HTTP/WebSocket server in front of it (with
 * the dashboard and API), and the local worker processes, with the URLs printed for the user.
 */
export async function startRemote(
  options: RemoteOptions,
  listen: ListenPlan,
  config: RunConfig,
  configHash: string,
  datasetFingerprint: string,
  view: RunView,
  log: (message: string) => void,
): Promise<Remote> {
  const wantShared = options.sharedSnapshots ?? process.env[SHARED_SNAPSHOTS_ENV] !== 'off';
  const shared = options.workers > 0 && wantShared ? sharedFolder(log) : null;
  const limits = messageLimits(config);
  const pool = new WorkerPool({
    config: config as unknown as Record<string, unknown>,
    configHash,
    datasetFingerprint,
    limits,
    log,
    taskTimeoutMs: options.taskTimeoutMs,
    heartbeatMs: options.heartbeatMs,
    checker: options.checker ?? null,
    sharedSnapshots: shared,
  });
  let server: RunningServer;
  try {
    server = await serve(options, listen, pool, view, limits);
  } catch (err) {
    pool.close('coordinator failed to start');
    shared?.close();
    throw err;
  }
  const { token } = listen;
  log(`listening on ${server.wsUrl} (workers connect here)${token ? '; token required' : ''}`);
  printUrls(server, options.dashboard, token && isLoopbackAddress(listen.host) ? token : undefined, token !== undefined);
  const children = startLocalWorkers(options, server.wsUrl, token, shared, log);
  const running = server;
  return {
    pool,
    close: async (reason) => {
      pool.close(reason);
      await stopLocalWorkers(children);
      await running.close();
      shared?.close();
    },
  };
}

/** What a worker's message may hold for this model: its parameter counts and the shard gradient bound. */
function messageLimits(config: RunConfig): WorkerMessageLimits {
  const dParams = parameterCount(parameterSpec(config.model.discriminator));
  const gParams = parameterCount(parameterSpec(config.model.generator));
  // A result past this bound would overflow Adam's state: refused from its worker, recomputed by another.
  return { dParams, gParams, gradientBound: shardGradientBound(config.batchSize, config.shards) };
}

/** The HTTP/WebSocket server: sockets to the pool, requests to the API, the dashboard and /metrics. */
function serve(options: RemoteOptions, listen: ListenPlan, pool: WorkerPool, view: RunView, limits: WorkerMessageLimits): Promise<RunningServer> {
  const prometheus = prometheusRegistry({
    step: () => view.status().step,
    lastMetrics: () => view.metrics().at(-1),
    workers: () => pool.workers(),
    totals: () => pool.totals(),
  });
  return startServer({
    listen,
    port: options.port,
    maxPayload: maxFrameBytes(limits.dParams, limits.gParams),
    onSocket: (ws, remote) => pool.attach(ws, remote),
    onRequest: (req, res) =>
      handleHttp(req, res, {
        status: () => ({ ...view.status(), workers: pool.workers() }),
        prometheus,
        metrics: view.metrics,
        latestSample: view.latestSample,
        dashboard: options.dashboard,
      }),
  });
}

/**
 * Where to look, on stdout. The token goes into the dashboard link only when `linkToken` is given
 * (on loopback, for the user at this terminal); beyond it the output may end up in an engine's log
 * store, where a secret does not belong.
 */
function printUrls(server: RunningServer, dashboard: boolean, linkToken: string | undefined, tokenRequired: boolean): void {
  process.stdout.write(`distgan: workers connect to ${server.wsUrl}\n`);
  if (dashboard) {
    const link = linkToken ? `?token=${encodeURIComponent(linkToken)}` : tokenRequired ? ' (add ?token=<the token>)' : '';
    process.stdout.write(`distgan: dashboard at ${server.httpUrl}${link}\n`);
  }
  process.stdout.write(`distgan: status at ${server.httpUrl}api/status\n`);
}

/** `--workers N` local worker processes connected to `wsUrl` (none: says how to start one). */
function startLocalWorkers(
  options: RemoteOptions,
  wsUrl: string,
  token: string | undefined,
  shared: SharedSnapshots | null,
  log: (message: string) => void,
): ChildProcess[] {
  if (options.workers === 0) {
    log(`no local workers (--workers 0): start workers with  npx distgan-worker --connect ${wsUrl}${token ? ' --token <token>' : ''}`);
    return [];
  }
  const children = spawnLocalWorkers({
    count: options.workers,
    url: wsUrl.replace('0.0.0.0', '127.0.0.1'),
    token,
    backend: options.backend,
    dataDir: options.dataDir,
    ca: options.tlsCert,
    log,
    extraArgs: [...(shared ? ['--shared-snapshots', shared.dir] : []), ...(options.workerArgs ?? [])],
    env: options.workerEnv,
  });
  log(`started ${children.length} local worker(s): pids ${children.map((c) => c.pid).join(', ')}`);
  if (shared) log(`local workers read snapshots from files in ${shared.dir} (removed at the end)`);
  return children;
}
