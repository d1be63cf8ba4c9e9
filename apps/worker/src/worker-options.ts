// What a worker is given, and how it ends.

export interface WorkerOptions {
  readonly url: string;
  readonly token: string | undefined;
  readonly name: string;
  readonly backend: string;
  readonly dataDir: string | undefined;
  /** PEM file of a CA (or self-signed certificate) to trust for wss://. */
  readonly ca: string | undefined;
  /** Artificial delay per task, for tests of heterogeneous workers. */
  readonly delayMs: number;
  /** The coordinator's shared-snapshot folder (a local worker), where snapshots may come as files. */
  readonly sharedSnapshots?: string | undefined;
  /**
   * Return gradients as files in that folder too, when the coordinator sends snapshots there
   * (default: on the node backend only; see docs/performance.md, "Local workers").
   */
  readonly resultFiles?: boolean | undefined;
  /** Give up after this long without a connection (0: never). */
  readonly giveUpAfterMs: number;
  readonly log: (message: string) => void;
}

/** Why the worker stopped: done (exit 0) or a fatal error the user must fix (exit non-zero). */
export type WorkerOutcome = { readonly kind: 'done'; readonly reason: string } | { readonly kind: 'fatal'; readonly code: string; readonly message: string };

/** Close codes after which reconnecting cannot help. */
export const FATAL_CODES = new Set(['PROTOCOL_MISMATCH', 'CONFIG_MISMATCH', 'DATASET_MISMATCH']);
