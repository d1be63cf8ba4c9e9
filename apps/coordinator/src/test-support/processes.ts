import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
export const COORDINATOR_CLI = join(here, '../../dist/cli.js');
export const WORKER_CLI = createRequire(import.meta.url).resolve('@distgan/worker/cli');

/** A spawned process with its output collected; ended by pid in `killAll`. */
export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout: string;
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first match of `pattern` in stdout+stderr (rejects on exit or timeout). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

const live = new Set<Proc>();

/** `ownGroup`: start the process as the leader of a new process group, so a test can signal the group as a terminal does. */
export function start(script: string, args: readonly string[], env: Record<string, string> = {}, options: { ownGroup?: boolean } = {}): Proc {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, DISTGAN_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownGroup ?? false,
  });
  let notify: () => void = () => undefined;
  const proc: Proc = {
    child,
    pid: child.pid!,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        live.delete(proc);
        notify();
        resolve({ code, signal });
      }),
    ),
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          notify = () => undefined;
          reject(new Error(`timed out waiting for ${pattern} from pid ${proc.pid}\nstdout: ${proc.stdout.slice(-2000)}\nstderr: ${proc.stderr.slice(-2000)}`));
        }, timeoutMs);
        const check = () => {
          const m = (proc.stdout + proc.stderr).match(pattern);
          if (m) {
            clearTimeout(timer);
            notify = () => undefined;
            resolve(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            reject(
              new Error(
                `pid ${proc.pid} exited (${child.exitCode ?? child.signalCode}) before ${pattern}\nstdout: ${proc.stdout.slice(-2000)}\nstderr: ${proc.stderr.slice(-3000)}`,
              ),
            );
          }
        };
        notify = check;
        check();
      });
    },
  };
  child.stdout!.on('data', (d: Buffer) => {
    proc.stdout += d.toString();
    notify();
  });
  child.stderr!.on('data', (d: Buffer) => {
    proc.stderr += d.toString();
    notify();
  });
  live.add(proc);
  return proc;
}

export function startCoordinator(args: readonly string[], env?: Record<string, string>, options?: { ownGroup?: boolean }): Proc {
  return start(COORDINATOR_CLI, args, env, options);
}

export function startWorker(url: string, args: readonly string[] = [], env?: Record<string, string>): Proc {
  return start(WORKER_CLI, ['--connect', url, ...args], env);
}

/** Kills every process this file started that is still running, by pid, and waits for them. */
export async function killAll(): Promise<void> {
  const procs = [...live];
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGCONT'); // a SIGSTOPped process cannot die of SIGKILL until resumed on some kernels' accounting
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.all(procs.map((p) => p.exited));
}

/** Runs the coordinator to its end and returns the summary it wrote. */
export async function runToEnd(args: readonly string[], env?: Record<string, string>): Promise<{ proc: Proc; summary: Summary; code: number | null }> {
  const proc = startCoordinator(args, env);
  const { code } = await proc.exited;
  if (code !== 0) throw new Error(`coordinator exited ${code}\nstdout: ${proc.stdout.slice(-2000)}\nstderr: ${proc.stderr.slice(-4000)}`);
  const dir = proc.stdout.match(/run directory: (.+)\n/)?.[1];
  if (!dir) throw new Error(`no run directory line in:\n${proc.stdout}`);
  return { proc, code, summary: readSummary(dir) };
}

export interface Summary {
  readonly steps: number;
  readonly stoppedEarly: boolean;
  readonly weightsSha256: string;
  readonly dSha256: string;
  readonly gSha256: string;
  readonly backend: string;
  readonly runDir: string;
  readonly workers: number;
}

export function readSummary(dir: string): Summary {
  return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
}

export function readMetrics(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A fresh temporary folder removed by the returned function. */
export function tempDir(prefix = 'distgan-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * The scaffolding of a process-level test file: a temp folder removed after the file, every
 * spawned process ended after each test, and `runDir()` naming a fresh run folder in it.
 */
export function testRuns(): { readonly tmp: { readonly path: string }; readonly runDir: () => string } {
  const tmp = tempDir();
  afterEach(killAll);
  afterAll(() => tmp.remove());
  let runs = 0;
  return { tmp, runDir: () => `${tmp.path}/run-${++runs}` };
}

/** The ws:// URL a coordinator prints once it listens. */
export async function coordinatorUrl(proc: Proc): Promise<string> {
  return (await proc.waitFor(/workers connect to (wss?:\/\/\S+)/))[1]!;
}

/** A port that was free a moment ago (for tests that must restart a server on the same port). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once metrics.jsonl holds at least `steps` lines. */
export async function waitForSteps(dir: string, steps: number, timeoutMs = 60_000): Promise<void> {
  const { existsSync } = await import('node:fs');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(join(dir, 'metrics.jsonl')) && readMetrics(dir).length >= steps) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${dir} did not reach ${steps} steps in ${timeoutMs} ms`);
}
