import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coordinatorUrl, readSummary, runToEnd, startCoordinator, startWorker, testRuns, waitForSteps } from './test-support/processes.js';

// What an engine (Docker Swarm, Kubernetes) relies on: the token from a mounted file, /healthz,
// /metrics, JSON log lines and one command line for every start. Real processes, real HTTP.
const { tmp, runDir } = testRuns();
const ARGS = ['--preset', 'tiny', '--steps', '40', '--shards', '2', '--seed', '7', '--sample-every', '0', '--no-dashboard'];

function tokenFile(name: string, content: string): string {
  const path = join(tmp.path, name);
  writeFileSync(path, content);
  return path;
}

describe('made for engines', () => {
  it('reads the token from a file, serves /healthz without it and /metrics with it, and logs JSON lines', async () => {
    const file = tokenFile('token', 's3cret-from-a-secret\n'); // a trailing newline, as `echo` and mounted secrets leave it
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '0', '--token-file', file, '--log-format', 'json', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    const http = url.replace('ws://', 'http://');

    const health = await fetch(`${http}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', running: true, step: 0, steps: 40, workers: 0 });
    expect((await fetch(`${http}/metrics`)).status).toBe(401);
    expect((await fetch(`${http}/api/status`)).status).toBe(401);

    const worker = startWorker(url, ['--name', 'filed', '--token-file', file, '--log-format', 'json', '--delay-ms', '20']);
    await waitForSteps(dir, 5);
    const scrape = await fetch(`${http}/metrics`, { headers: { authorization: 'Bearer s3cret-from-a-secret' } });
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await scrape.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('distgan_step')).toBeGreaterThanOrEqual(5);
    expect(value('distgan_workers_connected')).toBe(1);
    expect(value('distgan_workers_set_aside')).toBe(0);
    expect(value('distgan_sent_bytes_total')).toBeGreaterThan(0);
    expect(value('distgan_received_bytes_total')).toBeGreaterThan(0);
    expect(Number.isFinite(value('distgan_d_loss'))).toBe(true);
    expect(text).toMatch(/^# TYPE distgan_tasks_reassigned_total counter$/m);
    expect(value('distgan_tasks_reassigned_total')).toBe(0);

    expect((await c.exited).code).toBe(0);
    await worker.exited;
    // Every stderr line of both is one JSON object with the fields a collector indexes.
    for (const proc of [c, worker]) {
      const lines = proc.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.includes('oneDNN') && !l.startsWith('WARNING: All log messages'));
      expect(lines.length).toBeGreaterThan(2);
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        expect(Object.keys(entry).slice(0, 4)).toEqual(['time', 'level', 'source', 'message']);
      }
    }
    expect(c.stderr).toMatch(/"source":"coordinator","message":"worker w\d+ \(filed@/);
    expect(worker.stderr).toMatch(/"source":"worker filed","message":"joined as w\d+/);
  }, 120_000);

  it('refuses a token file that is missing or empty, or given beside --token, naming it', async () => {
    const empty = tokenFile('empty', '\n');
    const cases: [string[], RegExp][] = [
      [['--token-file', join(tmp.path, 'nope')], /error: --token-file .*nope: ENOENT/],
      [['--token-file', empty], /error: --token-file .*empty: the token is empty/],
      [['--token', 'a', '--token-file', empty], /error: --token and --token-file both give the token: pass one/],
    ];
    for (const [flags, message] of cases) {
      const c = startCoordinator([...ARGS, '--workers', '0', '--run-dir', runDir(), ...flags]);
      expect((await c.exited).code).toBe(1);
      expect(c.stderr).toMatch(message);
    }
    const fromEnv = startCoordinator([...ARGS, '--workers', '0', '--host', '0.0.0.0', '--run-dir', runDir()], { DISTGAN_TOKEN_FILE: empty });
    expect((await fromEnv.exited).code).toBe(1);
    expect(fromEnv.stderr).toMatch(/error: DISTGAN_TOKEN_FILE .*empty: the token is empty/);
  }, 60_000);

  it('--start-or-resume: the same command line starts the run, continues it after a kill, and ends on the uninterrupted hash', async () => {
    const reference = (await runToEnd([...ARGS, '--in-process', '--run-dir', runDir()])).summary.weightsSha256;
    const dir = runDir();
    const command = [...ARGS, '--workers', '1', '--checkpoint-every', '10', '--start-or-resume', '--run-dir', dir];
    const first = startCoordinator(command);
    await waitForSteps(dir, 15);
    first.child.kill('SIGKILL');
    await first.exited;
    const again = await runToEnd(command);
    expect(again.code).toBe(0);
    expect(again.proc.stderr).toMatch(/resumed from .*step-0000[12]0\.ckpt at step [12]0/);
    expect(readSummary(dir).weightsSha256).toBe(reference);
  }, 120_000);
});
