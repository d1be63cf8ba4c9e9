// What the worker pool is given, what it reports of each worker, and the rules' constants.
import { PROTOCOL_VERSION, type WelcomeMessage, type WorkerMessageLimits } from '@distgan/protocol';
import type { SharedSnapshots } from './shared-snapshots.js';
import type { ResultChecker } from './verification.js';
import type { ConnectionState, WorkerConnection } from './worker-connection.js';

export interface WorkerPoolOptions {
  /** The run config as sent in `welcome`. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly configHash: string;
  readonly datasetFingerprint: string;
  readonly limits: WorkerMessageLimits;
  readonly log: (message: string) => void;
  /** Tasks a worker may hold at once: 2 hides the round trip behind the next compute. */
  readonly maxInFlight?: number;
  /** A task not answered in this time goes back to the queue, to another worker when there is one (see `Scheduler`). */
  readonly taskTimeoutMs?: number;
  /** Deadlines overrun in a row that set a worker aside (it then gets tasks only when no other worker can take them). */
  readonly strikesToSetAside?: number;
  /** Failures of one task, with every connected worker among those that failed it, that end the run. */
  readonly failuresToStop?: number;
  /** Task failures in a row (no result accepted between) that set a worker aside. */
  readonly failuresToSetAside?: number;
  /** Ping period; a worker that has not answered the previous ping is dropped. */
  readonly heartbeatMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** How often to repeat "waiting for workers" while none is connected. */
  readonly waitingLogMs?: number;
  /** Verified training: checks a share of results against the coordinator's own computation (null: none). */
  readonly checker?: ResultChecker | null;
  /** The folder local workers read snapshots from (null: every snapshot goes over the socket). */
  readonly sharedSnapshots?: SharedSnapshots | null;
}

/** The options with every default filled in. */
export function withPoolDefaults(options: WorkerPoolOptions): Required<WorkerPoolOptions> {
  return {
    maxInFlight: 2,
    taskTimeoutMs: 120_000,
    strikesToSetAside: 2,
    failuresToStop: 3,
    failuresToSetAside: 2,
    heartbeatMs: 5_000,
    handshakeTimeoutMs: 30_000,
    waitingLogMs: 10_000,
    checker: null,
    sharedSnapshots: null,
    ...options,
  };
}

/** The `welcome` every worker gets, but for its id: the run's config and what identifies its data. */
export function welcomeFor(options: WorkerPoolOptions): Omit<WelcomeMessage, 'workerId'> {
  return {
    type: 'welcome',
    protocol: PROTOCOL_VERSION,
    config: options.config,
    configHash: options.configHash,
    datasetFingerprint: options.datasetFingerprint,
  };
}

/** One connected worker, as the coordinator sees it. */
export interface WorkerStatus {
  readonly id: string;
  readonly name: string;
  readonly host: string;
  readonly backend: string;
  /** `set aside`: it overran deadlines in a row and gets tasks only when no other worker can take them. */
  readonly state: ConnectionState | 'set aside';
  /** Why it was set aside. */
  readonly setAsideReason?: string;
  readonly shardsDone: number;
  readonly meanShardMs: number;
  readonly inFlight: number;
  readonly lastSeen: string;
  readonly connectedAt: string;
}

/** Who a worker says it is: a reconnecting process keeps it, a restarted one gets a new pid. */
export function identityOf(connection: Pick<WorkerConnection, 'id' | 'info'>): string {
  const info = connection.info;
  return info ? `${info.name}@${info.host}/${info.pid}` : connection.id;
}

/** WebSocket's "service restart": the worker reconnects. */
export const CLOSE_RECONNECT = 1012;

/** `error` messages logged per connection; a worker sends one before it closes, so more is noise. */
export const ERRORS_LOGGED = 5;
/** `error` messages after which a connection is closed as a flood. */
export const ERROR_FLOOD = 50;
