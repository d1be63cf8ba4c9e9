import { printable } from './log-text.js';
import type { WorkerStatus } from './pool-options.js';
import type { Scheduler } from './scheduler.js';
import type { WorkerConnection } from './worker-connection.js';

/**
 * Bit-identical weights need every shard computed with the same arithmetic: workers on different
 * backends (or, for tfjs-node, CPU families) make the weights depend on who computed what. The
 * warning for a worker that just joined, when one already connected computes on another backend.
 */
export function mixedBackendWarning(joined: WorkerConnection, connections: readonly WorkerConnection[]): string | null {
  const backend = joined.info?.backend;
  const other = connections.find((c) => c !== joined && c.state === 'ready' && c.info?.backend !== backend);
  if (!other) return null;
  return (
    `warning: worker ${joined.label} computes on ${printable(backend ?? '?')} and ${other.label} on ${printable(other.info?.backend ?? '?')}: ` +
    'the weights will depend on which worker computes which shard; give every worker the same --backend for bit-identical runs'
  );
}

/** Each connected worker as the dashboard, `/api/status` and `/metrics` show it. */
export function workerStatuses(connections: readonly WorkerConnection[], scheduler: Scheduler, setAsideReasons: ReadonlyMap<string, string>): WorkerStatus[] {
  return connections.map((c) => ({
    id: c.id,
    // What a worker said of itself reaches the dashboard and /api as printable text, as it reaches the log.
    name: printable(c.info?.name ?? ''),
    host: printable(c.info?.host ?? c.remote),
    backend: printable(c.info?.backend ?? ''),
    state: scheduler.isSetAside(c.id) ? 'set aside' : c.state,
    ...(scheduler.isSetAside(c.id) ? { setAsideReason: setAsideReasons.get(c.id) ?? 'it overran task deadlines in a row' } : {}),
    shardsDone: c.shardsDone,
    meanShardMs: c.shardsDone > 0 ? c.computeMs / c.shardsDone : 0,
    inFlight: scheduler.inFlight(c.id),
    lastSeen: new Date(c.lastSeen).toISOString(),
    connectedAt: new Date(c.connectedAt).toISOString(),
  }));
}
