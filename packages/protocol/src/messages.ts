/**
 * 2: a task may arrive before the snapshot it names (the next step's D tasks go out during the G
 * phase, ahead of G's new version); a worker of version 1 would fail such a task.
 * 3: results carry `cpuMs`, the worker process's CPU time since its previous result.
 * 4: `hello` names the shared folder a local worker was started with; the coordinator may send
 * such a worker `snapshotFile` instead of `snapshot`, and a worker that received one answers with
 * `resultFile` instead of `result`.
 */
export const PROTOCOL_VERSION = 4;

export type Phase = 'D' | 'G';
export type NetworkName = 'D' | 'G';

/** Who a worker is, for logs and the dashboard. */
export interface WorkerInfo {
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  readonly backend: string;
}

// ---- worker -> coordinator ----

export interface HelloMessage {
  readonly type: 'hello';
  readonly protocol: number;
  readonly worker: WorkerInfo;
  /**
   * The folder of the coordinator's shared snapshots this worker was started with (a local worker,
   * `--shared-snapshots`), or null. A coordinator whose own folder it is sends `snapshotFile`.
   */
  readonly snapshotDir: string | null;
}

/** Sent after the worker built its model and loaded its data from the welcome's config. */
export interface ReadyMessage {
  readonly type: 'ready';
  readonly configHash: string;
  readonly datasetFingerprint: string;
}

export interface ResultMessage {
  readonly type: 'result';
  readonly step: number;
  readonly phase: Phase;
  readonly shard: number;
  /** Gradient of the sum of the shard's loss terms w.r.t. the phase's network, in snapshot order. */
  readonly gradient: Float32Array;
  readonly lossSum: number;
  readonly dRealSum: number;
  readonly dFakeSum: number;
  readonly computeMs: number;
  /**
   * CPU time (user + system, all threads) the worker process used since its previous result (the
   * first result: since the worker started, loading included), in ms: decoding snapshots and
   * sending included, so that the coordinator can report how much of the machine a step takes (a
   * step cannot be shorter than its CPU time over the cores).
   */
  readonly cpuMs: number;
}

/**
 * A `result` whose gradient is in a file in the coordinator's shared folder (raw little-endian
 * float32 bytes, nothing else), sent only by a worker that received `snapshotFile` on this
 * connection. The file is named `r-<workerId>-<n>.f32` (`workerId` from `welcome`), written once;
 * the coordinator deletes it when read.
 */
export interface ResultFileMessage extends Omit<ResultMessage, 'type' | 'gradient'> {
  readonly type: 'resultFile';
  readonly file: string;
}

// ---- coordinator -> worker ----

export interface WelcomeMessage {
  readonly type: 'welcome';
  readonly protocol: number;
  readonly workerId: string;
  /** The run config as JSON-like data; the worker rebuilds and hashes it. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly configHash: string;
  readonly datasetFingerprint: string;
}

export interface SnapshotMessage {
  readonly type: 'snapshot';
  readonly net: NetworkName;
  readonly version: number;
  readonly weights: Float32Array;
}

/**
 * A snapshot written to a file in the shared-snapshot folder (`HelloMessage.snapshotDir`): the
 * file holds the weights' raw little-endian float32 bytes and nothing else, and is never
 * rewritten. The coordinator deletes a network's files two versions behind its latest, by which
 * time every task that needed them is done, so a file that is gone was no longer needed.
 */
export interface SnapshotFileMessage {
  readonly type: 'snapshotFile';
  readonly net: NetworkName;
  readonly version: number;
  /** A file name in that folder: letters, digits, `.`, `_`, `-`, not starting with `.`. */
  readonly file: string;
}

/**
 * One shard to compute at the snapshot versions it names. It may arrive before a snapshot it
 * needs, which follows; the worker waits for it (and may compute meanwhile what needs only the
 * snapshots it holds).
 */
export interface TaskMessage {
  readonly type: 'task';
  readonly step: number;
  readonly phase: Phase;
  readonly shard: number;
  /** Global batch position of the shard's first row; noise row i is keyed by position i. */
  readonly start: number;
  readonly count: number;
  /** Snapshot versions the gradient must be computed at. */
  readonly dVersion: number;
  readonly gVersion: number;
  /** Real image indices of the shard (D phase only; null in the G phase). */
  readonly indices: Uint32Array | null;
}

export interface DoneMessage {
  readonly type: 'done';
  readonly reason: string;
}

// ---- either direction ----

/** A clear error for the peer's log, sent just before closing with the matching close code. */
export interface ErrorMessage {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
}

export type WorkerMessage = HelloMessage | ReadyMessage | ResultMessage | ResultFileMessage | ErrorMessage;
export type CoordinatorMessage = WelcomeMessage | SnapshotMessage | SnapshotFileMessage | TaskMessage | DoneMessage | ErrorMessage;
export type Message = WorkerMessage | CoordinatorMessage;

export const WORKER_MESSAGE_TYPES = ['hello', 'ready', 'result', 'resultFile', 'error'] as const satisfies readonly WorkerMessage['type'][];
export const COORDINATOR_MESSAGE_TYPES = [
  'welcome',
  'snapshot',
  'snapshotFile',
  'task',
  'done',
  'error',
] as const satisfies readonly CoordinatorMessage['type'][];
