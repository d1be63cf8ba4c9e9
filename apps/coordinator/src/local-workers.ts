import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { environmentAsGiven, LOG_FORMAT_ENV, logFormat } from '@distgan/runtime';

export interface LocalWorkerOptions {
  readonly count: number;
  readonly url: string;
  readonly token: string | undefined;
  readonly backend: string;
  readonly dataDir: string | undefined;
  readonly ca: string | undefined;
  readonly log: (message: string) => void;
  /** Extra flags for every worker (tests use --delay-ms). */
  readonly extraArgs?: readonly string[];
  /**
   * The environment the workers start from. Default: this process's as the user gave it
   * (`environmentAsGiven`), without the TensorFlow pools this process set for itself, which would
   * otherwise pass for the user's choice.
   */
  readonly env?: NodeJS.ProcessEnv;
}

/** Path of the worker's CLI script, resolved through the workspace package. */
export function workerCliPath(): string {
  return createRequire(import.meta.url).resolve('@distgan/worker/cli');
}

/**
 * TensorFlow's thread pools for `count` worker processes on one machine with `cores` cores: each
 * sized to its share of the cores (at least 1) and one inter-op thread, so that tfjs-node workers
 * share the machine instead of each starting a pool as large as all of it (TensorFlow's default).
 * A value the user set in `env` wins. oneDNN's results do not depend on the pool's size, so the
 * weights stay bit-identical (docs/design.md, "Determinism"). Other backends ignore these variables.
 */
export function tensorFlowThreads(count: number, cores: number, env: NodeJS.ProcessEnv): Record<string, string> {
  return {
    TF_NUM_INTRAOP_THREADS: env.TF_NUM_INTRAOP_THREADS ?? String(Math.max(1, Math.floor(cores / count))),
    TF_NUM_INTEROP_THREADS: env.TF_NUM_INTEROP_THREADS ?? '1',
  };
}

/** A local worker's environment: `base` with its TensorFlow pools (`tensorFlowThreads`), the token and the coordinator's log format. */
export function localWorkerEnv(base: NodeJS.ProcessEnv, count: number, cores: number, token: string | undefined): NodeJS.ProcessEnv {
  return { ...base, ...tensorFlowThreads(count, cores, base), DISTGAN_TOKEN: token ?? '', [LOG_FORMAT_ENV]: logFormat() };
}

/**
 * Starts `count` worker processes on this machine. They get an IPC channel so they exit when this
 * process dies, whatever kills it; the token travels in the environment, not argv (visible in ps).
 * Each runs in its own process group, so a terminal's Ctrl-C (SIGINT to the whole foreground
 * group) reaches only the coordinator: it finishes the step with its workers, checkpoints, and
 * then ends them. In the coordinator's group they would leave at once and the step could never
 * finish.
 */
export function spawnLocalWorkers(options: LocalWorkerOptions): ChildProcess[] {
  const cli = workerCliPath();
  return Array.from({ length: options.count }, (_, i) => {
    const args = [cli, '--connect', options.url, '--backend', options.backend, '--name', `local-${i + 1}`, '--exit-with-parent'];
    if (options.dataDir) args.push('--data-dir', options.dataDir);
    if (options.ca) args.push('--ca', options.ca);
    args.push(...(options.extraArgs ?? []));
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: localWorkerEnv(options.env ?? environmentAsGiven(), options.count, availableParallelism(), options.token),
      detached: true,
    });
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGTERM') options.log(`local worker ${i + 1} (pid ${child.pid}) exited with ${signal ?? `code ${code}`}`);
    });
    return child;
  });
}

/** Ends local workers by pid and waits for them (bounded). */
export async function stopLocalWorkers(children: readonly ChildProcess[], graceMs = 3_000): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
          }, graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}
