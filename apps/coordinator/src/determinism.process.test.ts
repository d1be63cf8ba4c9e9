import { existsSync } from 'node:fs';
import { parameterCount, parameterSpec } from '@distgan/models';
import type { RunConfig } from '@distgan/training';
import { describe, expect, it } from 'vitest';
import { RawClient } from './test-support/raw-client.js';
import { coordinatorUrl, readMetrics, readSummary, runToEnd, startCoordinator, startWorker, testRuns } from './test-support/processes.js';

const { runDir } = testRuns();
const TINY = ['--preset', 'tiny', '--steps', '4', '--seed', '11', '--sample-every', '0'];

describe('bit-identical weights whatever the number of workers (tiny model, real processes and sockets)', () => {
  for (const shards of [1, 4, 7]) {
    it(`K=${shards}: in-process, 1 worker and 3 workers give the same weightsSha256`, async () => {
      const args = [...TINY, '--shards', String(shards)];
      const inProcess = (await runToEnd([...args, '--in-process', '--run-dir', runDir()])).summary;
      const one = (await runToEnd([...args, '--workers', '1', '--run-dir', runDir()])).summary;
      const three = (await runToEnd([...args, '--workers', '3', '--run-dir', runDir()])).summary;
      expect(inProcess.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(one.weightsSha256).toBe(inProcess.weightsSha256);
      expect(three.weightsSha256).toBe(inProcess.weightsSha256);
      expect(inProcess.steps).toBe(4);
    });
  }

  it('local workers exchanging snapshots and gradients through the shared folder or over their sockets: the same hash, fewer bytes on the sockets, no folder left', async () => {
    const args = [...TINY, '--shards', '4', '--workers', '2'];
    const sharedDir = runDir();
    const shared = await runToEnd([...args, '--run-dir', sharedDir]);
    const socketDir = runDir();
    const socket = await runToEnd([...args, '--run-dir', socketDir], { DISTGAN_SHARED_SNAPSHOTS: 'off' });
    expect(shared.summary.weightsSha256).toBe(socket.summary.weightsSha256);
    const folder = shared.proc.stderr.match(/local workers read snapshots from files in (\S+)/)?.[1];
    expect(folder, shared.proc.stderr).toBeDefined();
    expect(existsSync(folder!)).toBe(false);
    expect(socket.proc.stderr).not.toMatch(/read snapshots from files/);
    // Each step's two snapshots (26 k parameters of the tiny model, 100 KB) no longer go to the
    // workers that compute at them, nor the step's 8 gradients (4 shards a phase, 50 KB each) back.
    const total = (dir: string, key: 'bytesOut' | 'bytesIn') => readMetrics(dir).reduce((sum, m) => sum + (m[key] as number), 0);
    expect(total(socketDir, 'bytesOut') - total(sharedDir, 'bytesOut')).toBeGreaterThan(4 * 100_000);
    // Gradients come back as files on the node backend only (docs/performance.md, "Local workers").
    const gradientBytesSaved = total(socketDir, 'bytesIn') - total(sharedDir, 'bytesIn');
    if (shared.summary.backend === 'node') expect(gradientBytesSaved).toBeGreaterThan(4 * 8 * 48_000);
    else expect(Math.abs(gradientBytesSaved)).toBeLessThan(4 * 8 * 1_000);
  });

  /**
   * Plays a worker on `client`: answers every task at once with a zero (well-formed) gradient
   * until the coordinator says done; resolves with what arrived, in order.
   */
  async function playWorker(client: RawClient): Promise<{ log: string[]; tasks: Map<string, Record<string, unknown>> }> {
    const model = ((await client.handshake()).config as unknown as RunConfig).model;
    const sizes = { D: parameterCount(parameterSpec(model.discriminator)), G: parameterCount(parameterSpec(model.generator)) };
    const log: string[] = [];
    const tasks = new Map<string, Record<string, unknown>>();
    for (let i = 0; !log.includes('done'); i++) {
      await expect.poll(() => client.inbox.length, { timeout: 20_000 }).toBeGreaterThan(i);
      const m = client.inbox[i]!;
      if (m.type === 'snapshot') log.push(`snapshot ${m.net as string}@${m.version as number}`);
      else if (m.type === 'task') {
        const key = `task ${m.step as number}/${m.phase as string}/${m.shard as number}`;
        log.push(key);
        tasks.set(key, m);
        const phase = m.phase as 'D' | 'G';
        client.send({
          type: 'result',
          step: m.step,
          phase,
          shard: m.shard,
          gradient: new Float32Array(sizes[phase]),
          lossSum: 1,
          dRealSum: 0.5,
          dFakeSum: 0.5,
          computeMs: 1,
          cpuMs: 1,
        });
      } else log.push(String(m.type));
    }
    return { log, tasks };
  }

  it("hands a worker with room the next step's D task during the G phase, ahead of G's new snapshot, which follows when the D phase starts", async () => {
    const dir = runDir();
    const coordinator = startCoordinator([...TINY, '--shards', '2', '--workers', '0', '--run-dir', dir]);
    const { log, tasks } = await playWorker(new RawClient(await coordinatorUrl(coordinator)));
    expect((await coordinator.exited).code).toBe(0);
    // Step 0's G tasks fill the worker's two slots; the first G result frees one for step 1's first D task.
    expect(log.slice(0, 9)).toEqual([
      'snapshot D@0',
      'snapshot G@0',
      'task 0/D/0',
      'task 0/D/1',
      'snapshot D@1',
      'task 0/G/0',
      'task 0/G/1',
      'task 1/D/0',
      'snapshot G@1',
    ]);
    expect(tasks.get('task 1/D/0')).toMatchObject({ dVersion: 1, gVersion: 1 });
    expect(log[9]).toBe('task 1/D/1');
    expect(readSummary(dir).steps).toBe(4);
  });

  it('hands the task ahead to an idle worker rather than to one still computing', async () => {
    const dir = runDir();
    const coordinator = startCoordinator([...TINY, '--shards', '1', '--workers', '0', '--min-workers', '2', '--run-dir', dir]);
    const url = await coordinatorUrl(coordinator);
    const [a, b] = await Promise.all([playWorker(new RawClient(url)), playWorker(new RawClient(url))]);
    expect((await coordinator.exited).code).toBe(0);
    // Each step's G task goes to one worker; the next step's D task (one shard) to the other.
    for (let step = 0; step < 3; step++) {
      const gTaker = a.tasks.has(`task ${step}/G/0`) ? a : b;
      const other = gTaker === a ? b : a;
      expect(other.tasks.has(`task ${step + 1}/D/0`), `step ${step}: ${a.log.join(', ')} | ${b.log.join(', ')}`).toBe(true);
    }
  });

  it('different K or seed change the hash (the comparison can fail)', async () => {
    const a = (await runToEnd([...TINY, '--shards', '4', '--in-process', '--run-dir', runDir()])).summary;
    const b = (await runToEnd([...TINY, '--shards', '4', '--seed', '12', '--in-process', '--run-dir', runDir()])).summary;
    expect(b.weightsSha256).not.toBe(a.weightsSha256);
  });

  it('--workers 0 waits (and says so) until two distgan-worker processes join, then trains to the same hash', async () => {
    const reference = (await runToEnd([...TINY, '--shards', '4', '--in-process', '--run-dir', runDir()])).summary;
    const dir = runDir();
    const coordinator = startCoordinator([...TINY, '--shards', '4', '--workers', '0', '--run-dir', dir]);
    const url = await coordinatorUrl(coordinator);
    await coordinator.waitFor(/waiting for workers: none connected/);
    startWorker(url, ['--name', 'ext-a']);
    startWorker(url, ['--name', 'ext-b']);
    const { code } = await coordinator.exited;
    expect(code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference.weightsSha256);
    const shardsByWorker = readMetrics(dir).map((m) => m.shardsByWorker as Record<string, number>);
    expect(shardsByWorker.every((s) => Object.values(s).reduce((a, b) => a + b, 0) === 8)).toBe(true); // 4 shards x 2 phases
  });

  it('--min-workers 2 holds step 0 until a second worker joins, then both take shards from the first step', async () => {
    const dir = runDir();
    const coordinator = startCoordinator([...TINY, '--shards', '4', '--workers', '0', '--min-workers', '2', '--run-dir', dir]);
    const url = await coordinatorUrl(coordinator);
    startWorker(url, ['--name', 'first']);
    await coordinator.waitFor(/first@.*joined/);
    await coordinator.waitFor(/waiting for 2 workers to join before the first step/);
    // The second worker takes about a second to start; a coordinator that began step 0 with one
    // worker would have finished the tiny step by then, with that worker's shards only.
    startWorker(url, ['--name', 'second']);
    expect((await coordinator.exited).code).toBe(0);
    expect(Object.keys(readMetrics(dir)[0]!.shardsByWorker as Record<string, number>)).toHaveLength(2);
  });

  it('warns when workers compute on different backends, since the weights then depend on who computed what', async () => {
    const dir = runDir();
    const coordinator = startCoordinator([...TINY, '--shards', '4', '--workers', '0', '--min-workers', '2', '--run-dir', dir]);
    const url = await coordinatorUrl(coordinator);
    startWorker(url, ['--name', 'on-wasm', '--backend', 'wasm']);
    await coordinator.waitFor(/on-wasm@.*joined/);
    expect(coordinator.stderr).not.toMatch(/warning: worker/);
    startWorker(url, ['--name', 'on-cpu', '--backend', 'cpu']);
    await coordinator.waitFor(
      /warning: worker w\d \(on-cpu@.*\) computes on cpu and w\d \(on-wasm@.*\) on wasm: the weights will depend on which worker computes which shard/,
    );
    expect((await coordinator.exited).code).toBe(0);
  });

  it('full-size seed preset: 2 local workers and in-process agree over 5 steps at B=128', async () => {
    const args = ['--preset', 'seed', '--steps', '5', '--shards', '4', '--seed', '3', '--sample-every', '0'];
    const inProcess = (await runToEnd([...args, '--in-process', '--run-dir', runDir()])).summary;
    const workers = (await runToEnd([...args, '--workers', '2', '--run-dir', runDir()])).summary;
    expect(workers.weightsSha256).toBe(inProcess.weightsSha256);
  });

  it('class-conditional default model: workers read the real labels themselves and agree with in-process', async () => {
    const args = ['--preset', 'default', '--steps', '3', '--batch-size', '24', '--shards', '5', '--seed', '3', '--sample-every', '0'];
    const inProcess = (await runToEnd([...args, '--in-process', '--run-dir', runDir()])).summary;
    const workers = (await runToEnd([...args, '--workers', '2', '--run-dir', runDir()])).summary;
    const otherSeed = (await runToEnd([...args, '--seed', '4', '--in-process', '--run-dir', runDir()])).summary;
    expect(workers.weightsSha256).toBe(inProcess.weightsSha256);
    expect(otherSeed.weightsSha256).not.toBe(inProcess.weightsSha256);
  });
});

describe('heterogeneous workers', () => {
  it('a slow worker takes fewer shards, the counts are in metrics.jsonl, and the hash is unchanged', async () => {
    const args = [...TINY, '--shards', '8'];
    const reference = (await runToEnd([...args, '--in-process', '--run-dir', runDir()])).summary;
    const dir = runDir();
    const coordinator = startCoordinator([...args, '--workers', '0', '--run-dir', dir]);
    const url = await coordinatorUrl(coordinator);
    startWorker(url, ['--name', 'slow', '--delay-ms', '150']);
    await coordinator.waitFor(/slow@.*joined/);
    startWorker(url, ['--name', 'fast']);
    expect((await coordinator.exited).code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference.weightsSha256);
    const totals: Record<string, number> = {};
    for (const m of readMetrics(dir)) for (const [id, n] of Object.entries(m.shardsByWorker as Record<string, number>)) totals[id] = (totals[id] ?? 0) + n;
    // w1 is the slow worker (it joined first); it must have done less than the fast w2.
    expect(totals.w1 ?? 0).toBeLessThan(totals.w2 ?? 0);
    expect((totals.w1 ?? 0) + (totals.w2 ?? 0)).toBe(4 * 16);
  });
});
