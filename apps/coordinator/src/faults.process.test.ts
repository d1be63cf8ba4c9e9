import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { PROTOCOL_VERSION } from '@distgan/protocol';
import { parameterCount, parameterSpec } from '@distgan/models';
import { checkpointKey, runConfigHash, type RunConfig } from '@distgan/training';
import { beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from './test-support/raw-client.js';
import { decodeCheckpoint, encodeCheckpoint } from '@distgan/run-store';
import {
  coordinatorUrl,
  freePort,
  readMetrics,
  readSummary,
  runToEnd,
  startCoordinator,
  startWorker,
  testRuns,
  waitForSteps,
} from './test-support/processes.js';

const { runDir } = testRuns();

// 30 steps of the tiny model, 6 shards; workers slowed a little so a fault lands mid-step.
const ARGS = ['--preset', 'tiny', '--steps', '30', '--shards', '6', '--seed', '5', '--sample-every', '0'];
let reference = '';
beforeAll(async () => {
  reference = (await runToEnd([...ARGS, '--in-process', '--run-dir', runDir()])).summary.weightsSha256;
});

describe('worker faults: the final weights equal the undisturbed run', () => {
  it('a worker killed with SIGKILL mid-step loses its shards to the queue', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '0', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    const victim = startWorker(url, ['--name', 'victim', '--delay-ms', '20']);
    startWorker(url, ['--name', 'survivor', '--delay-ms', '20']);
    await waitForSteps(dir, 5);
    process.kill(victim.pid, 'SIGKILL');
    await c.waitFor(/victim@.* left \(close 1006.*\); \d+ task\(s\) requeued/);
    expect((await c.exited).code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference);
  });

  it('a worker frozen with SIGSTOP is dropped on a missed heartbeat; its shards are redone', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '0', '--heartbeat-ms', '400', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    const frozen = startWorker(url, ['--name', 'frozen', '--delay-ms', '20']);
    startWorker(url, ['--name', 'alive', '--delay-ms', '20']);
    await waitForSteps(dir, 5);
    process.kill(frozen.pid, 'SIGSTOP');
    await c.waitFor(/frozen@.* missed a heartbeat/);
    expect((await c.exited).code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference);
  });

  it('a worker that overruns the task deadline has its shard requeued and its late result dropped', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--steps', '6', '--workers', '0', '--task-timeout-ms', '300', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    startWorker(url, ['--name', 'sluggish', '--delay-ms', '600']);
    await c.waitFor(/sluggish@.* joined/);
    startWorker(url, ['--name', 'quick']);
    await c.waitFor(/sluggish@.* overran the 300 ms task deadline/);
    expect((await c.exited).code).toBe(0);
    const ref6 = (await runToEnd([...ARGS, '--steps', '6', '--in-process', '--run-dir', runDir()])).summary.weightsSha256;
    expect(readSummary(dir).weightsSha256).toBe(ref6);
  });

  it('a result that comes after its task was taken back is dropped, even when it arrives first (zeros here: accepted, they would change the weights)', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--steps', '3', '--workers', '0', '--min-workers', '2', '--task-timeout-ms', '1000', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    // The honest worker takes 300 ms a task (two held: within the deadline), so the late zeros,
    // sent as soon as the coordinator says it took their tasks back, arrive before its results.
    startWorker(url, ['--name', 'honest', '--delay-ms', '300']);
    const late = new RawClient(url);
    const model = ((await late.handshake()).config as unknown as RunConfig).model;
    const held = [await late.next('task'), await late.next('task')];
    await c.waitFor(/raw@.* overran the 1000 ms task deadline/);
    for (const task of held) {
      const params = task.phase === 'D' ? model.discriminator : model.generator;
      late.send({
        type: 'result',
        step: task.step,
        phase: task.phase,
        shard: task.shard,
        gradient: new Float32Array(parameterCount(parameterSpec(params))),
        lossSum: 0,
        dRealSum: 0,
        dFakeSum: 0,
        computeMs: 1,
        cpuMs: 1,
      });
    }
    expect((await c.exited).code).toBe(0);
    const ref3 = (await runToEnd([...ARGS, '--steps', '3', '--in-process', '--run-dir', runDir()])).summary.weightsSha256;
    expect(readSummary(dir).weightsSha256).toBe(ref3);
    expect(c.stderr).not.toMatch(/closing worker .*raw@/); // dropped without complaint
  });

  it('a worker joining mid-run takes tasks from the next dispatch', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '0', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    startWorker(url, ['--name', 'first', '--delay-ms', '10']);
    await waitForSteps(dir, 5);
    startWorker(url, ['--name', 'latecomer', '--delay-ms', '10']);
    expect((await c.exited).code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference);
    const metrics = readMetrics(dir);
    expect(metrics[0]!.workers).toBe(1);
    expect(metrics.some((m) => Object.keys(m.shardsByWorker as object).includes('w2'))).toBe(true);
  });

  it('a worker whose connection drops reconnects (through a real TCP proxy we cut) and the run still matches', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '0', '--run-dir', dir]);
    const target = new URL(await coordinatorUrl(c));
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      client.pipe(upstream).pipe(client);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const proxyPort = (proxy.address() as { port: number }).port;
      const flaky = startWorker(`ws://127.0.0.1:${proxyPort}`, ['--name', 'flaky', '--delay-ms', '20']);
      startWorker(target.href.replace(/\/$/, ''), ['--name', 'steady', '--delay-ms', '20']);
      await waitForSteps(dir, 5);
      for (const s of sockets) s.destroy(); // the network blips
      await flaky.waitFor(/disconnected .*reconnecting/);
      await c.waitFor(/flaky@.*joined[\s\S]*flaky@.*joined/); // joined twice
      expect((await c.exited).code).toBe(0);
      expect(readSummary(dir).weightsSha256).toBe(reference);
    } finally {
      proxy.close();
      for (const s of sockets) s.destroy();
    }
  });
});

/**
 * A worker that completes the handshake and answers pings (ws does that by itself) but never
 * returns a result: a hung compute, a stuck driver, a buggy client.
 */
async function silentWorker(url: string): Promise<RawClient> {
  const client = new RawClient(url);
  await client.handshake();
  return client;
}

describe('misbehaving workers cannot stall a run', () => {
  const SHORT = [...ARGS, '--steps', '6', '--workers', '0', '--task-timeout-ms', '1000'];
  let reference6 = '';
  beforeAll(async () => {
    reference6 = (await runToEnd([...ARGS, '--steps', '6', '--in-process', '--run-dir', runDir()])).summary.weightsSha256;
  });

  for (const silentFirst of [true, false]) {
    it(`a connected worker that never returns results (joined ${silentFirst ? 'first' : 'second'}) is set aside; the run ends with the undisturbed hash`, async () => {
      const dir = runDir();
      const c = startCoordinator([...SHORT, '--run-dir', dir]);
      const url = await coordinatorUrl(c);
      let silent: RawClient | undefined;
      if (silentFirst) {
        silent = await silentWorker(url);
        await c.waitFor(/raw@test.* joined/);
      }
      startWorker(url, ['--name', 'honest']);
      await c.waitFor(/honest@.* joined/);
      silent ??= await silentWorker(url);
      expect((await c.exited).code, c.stderr).toBe(0);
      expect(readSummary(dir).weightsSha256).toBe(reference6);
      // At most two deadlines lost to it (in a row: then set aside), each task then redone by the honest worker.
      const overruns = c.stderr.match(/raw@test.* overran the 1000 ms task deadline/g)?.length ?? 0;
      expect(overruns).toBeGreaterThanOrEqual(1); // it was given tasks, and lost them
      expect(overruns).toBeLessThanOrEqual(2);
      if (overruns === 2) expect(c.stderr).toMatch(/raw@test.* overran 2 deadlines in a row: set aside/);
      silent.ws.terminate();
    }, 60_000);
  }

  it('a task that fails on every connected worker ends the run with its error and a checkpoint that resumes to the undisturbed hash', async () => {
    const dir = runDir();
    const c = startCoordinator([...SHORT, '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    // Fails every task it gets the same way, and comes back, as a worker with a broken backend would.
    let failures = 0;
    const failing = async (): Promise<void> => {
      const client = new RawClient(url);
      await client.handshake();
      const task = await client.next('task');
      client.send({
        type: 'error',
        code: 'WORKER_FAILED',
        message: `task ${task.step as number}/${task.phase as string}/${task.shard as number}: kernel Foo is broken`,
      });
      failures++;
      client.ws.close(4011, 'worker failed');
      await client.closed;
    };
    const { code } = await Promise.race([
      c.exited,
      (async () => {
        while (c.child.exitCode === null) await failing().catch(() => undefined);
        return c.exited;
      })(),
    ]);
    expect(code).toBe(1);
    expect(failures).toBe(3);
    expect(c.stderr).toMatch(/set aside: its tasks failed 2 times in a row/);
    expect(c.stderr).toMatch(
      /error: task 0\/D\/0 failed 3 times, on every connected worker \(the last: task 0\/D\/0: kernel Foo is broken\): no worker here can compute it/,
    );
    expect(c.stderr).not.toMatch(/--backend wasm/);
    expect(c.stderr).toMatch(/checkpoint of step 0 written: once the cause below is fixed, continue with --resume --run-dir/);
    const resumed = await runToEnd([...ARGS, '--steps', '6', '--workers', '1', '--run-dir', dir, '--resume']);
    expect(resumed.summary.weightsSha256).toBe(reference6);
  }, 60_000);

  it('a worker that fails every task, reconnecting at once, next to two honest ones: set aside, and the run ends with the undisturbed hash', async () => {
    const dir = runDir();
    const c = startCoordinator([...SHORT, '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    startWorker(url, ['--name', 'honest-1', '--delay-ms', '20']);
    startWorker(url, ['--name', 'honest-2', '--delay-ms', '20']);
    await c.waitFor(/honest-2@.* joined/);
    let failures = 0;
    const liar = async (): Promise<void> => {
      const client = new RawClient(url);
      await client.handshake();
      const task = await client.next('task');
      client.send({ type: 'error', code: 'WORKER_FAILED', message: `task ${task.step as number}/${task.phase as string}/${task.shard as number}: I lie` });
      failures++;
      client.ws.close(4011, 'worker failed');
      await client.closed;
    };
    // It comes back as soon as it is closed, as long as the run lasts.
    const looping = (async () => {
      while (c.child.exitCode === null) await liar().catch(() => undefined);
    })();
    expect((await c.exited).code).toBe(0);
    await looping;
    expect(readSummary(dir).weightsSha256).toBe(reference6);
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(c.stderr).toMatch(/raw@test.* set aside: its tasks failed 2 times in a row/);
    expect(c.stderr).not.toMatch(/error:/);
  }, 60_000);

  it("prints a worker's name, host and error text with control characters escaped", async () => {
    const dir = runDir();
    const c = startCoordinator([...SHORT, '--run-dir', dir]);
    const client = new RawClient(await coordinatorUrl(c));
    await client.opened;
    client.send({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      worker: { name: 'evil\n[coordinator] forged line\u001b[2J', host: 'h\r\u009b', pid: 1, backend: 'b' },
      snapshotDir: null,
    });
    const welcome = await client.next('welcome');
    client.send({ type: 'ready', configHash: welcome.configHash as string, datasetFingerprint: welcome.datasetFingerprint as string });
    client.send({ type: 'error', code: 'X\u001b[31m', message: 'line one\nline two' });
    await c.waitFor(/reported X/);
    expect(c.stderr).toContain('evil\\n[coordinator] forged line\\x1b[2J@h\\r\\x9b');
    expect(c.stderr).toContain('reported X\\x1b[31m: line one\\nline two');
    expect(c.stderr).not.toMatch(/^\[coordinator\] forged line/m);
    expect(c.stderr).not.toContain('\u001b');
    client.ws.terminate();
    c.child.kill('SIGKILL');
  });

  it('SIGTERM with no worker connected stops at once and leaves a checkpoint that resumes to the undisturbed hash', async () => {
    const dir = runDir();
    const c = startCoordinator([...SHORT, '--run-dir', dir]);
    await c.waitFor(/no local workers/);
    c.child.kill('SIGTERM');
    await c.waitFor(/SIGTERM: no worker is connected to finish the current step: stopping now/);
    expect((await c.exited).code).toBe(0);
    expect(c.stderr).toMatch(/stopped at step 0; continue with --resume/);
    const resumed = await runToEnd([...ARGS, '--steps', '6', '--workers', '1', '--run-dir', dir, '--resume']);
    expect(resumed.summary.weightsSha256).toBe(reference6);
  });
});

describe('coordinator faults', () => {
  it('killed with SIGKILL twice at different moments, then resumed, ends with the uninterrupted hash', async () => {
    const dir = runDir();
    const port = await freePort();
    const args = [
      ...ARGS,
      '--checkpoint-every',
      '1',
      '--workers',
      '2',
      '--port',
      String(port),
      '--run-dir',
      dir,
      '--worker-arg',
      '--delay-ms',
      '--worker-arg',
      '10',
    ];
    const first = startCoordinator(args);
    await waitForSteps(dir, 7);
    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    const second = startCoordinator([...args, '--resume']);
    const [, resumedAt] = await second.waitFor(/resumed from .*step-0000\d\d\.ckpt at step (\d+)/);
    // A different moment: just after a step's metrics line, when its checkpoint (every step here) is being written.
    await waitForSteps(dir, Number(resumedAt) + 3);
    process.kill(second.pid, 'SIGKILL');
    await second.exited;
    const third = startCoordinator([...args, '--resume']);
    const { code } = await third.exited;
    expect(code, third.stderr).toBe(0);
    const summary = readSummary(dir);
    expect(summary.steps).toBe(30);
    expect(summary.weightsSha256).toBe(reference);
    const steps = readMetrics(dir).map((m) => m.step);
    expect(steps).toEqual(Array.from({ length: 30 }, (_, i) => i)); // each step logged once
  });

  it('Ctrl-C in a terminal (SIGINT to the whole process group) checkpoints, ends the local workers, and resumes to the uninterrupted hash', async () => {
    const dir = runDir();
    const args = [...ARGS, '--workers', '2', '--worker-arg', '--delay-ms', '5', '--run-dir', dir];
    const c = startCoordinator(args, undefined, { ownGroup: true });
    const [, pids] = await c.waitFor(/started 2 local worker\(s\): pids (\d+, \d+)/);
    await waitForSteps(dir, 3);
    process.kill(-c.pid, 'SIGINT');
    await c.waitFor(/stopped at step (\d+); continue with --resume/, 30_000);
    expect((await c.exited).code).toBe(0);
    // The workers are gone with it, ended by the coordinator rather than by the signal.
    for (const pid of pids!.split(', ').map(Number)) expect(() => process.kill(pid, 0)).toThrow();
    expect(c.stderr).not.toMatch(/SIGINT: leaving/);
    const resumed = await runToEnd([...args, '--resume']);
    expect(resumed.summary.weightsSha256).toBe(reference);
  });

  it('refuses to overwrite a run directory without --resume', async () => {
    const dir = runDir();
    await runToEnd([...ARGS, '--steps', '1', '--in-process', '--run-dir', dir]);
    const again = startCoordinator([...ARGS, '--steps', '1', '--in-process', '--run-dir', dir]);
    expect((await again.exited).code).toBe(1);
    expect(again.stderr).toMatch(/already holds a run: pass --resume to continue it/);
  });

  it('refuses --resume with a flag that would change the run, naming it and the value the run keeps', async () => {
    const dir = runDir();
    const done = await runToEnd([...ARGS, '--steps', '1', '--in-process', '--run-dir', dir]);
    const other = startCoordinator([...ARGS, '--steps', '1', '--shards', '3', '--in-process', '--run-dir', dir, '--resume']);
    expect((await other.exited).code).toBe(1);
    expect(other.stderr).toMatch(/--resume continues .* with the settings in its config\.json; --shards 3 \(the run has 6\) would change the run/);
    expect(readSummary(dir).weightsSha256).toBe(done.summary.weightsSha256); // nothing was trained or overwritten
  });

  it('--resume --steps N continues a finished run to N steps, bit for bit as a run of N steps from the start; N at or below its step is refused', async () => {
    const dir = runDir();
    await runToEnd([...ARGS, '--steps', '4', '--in-process', '--run-dir', dir]);
    // Keyed as an earlier distgan wrote checkpoints, by the full config hash (4 steps included).
    const run = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { run: RunConfig }).run;
    const saved = join(dir, 'checkpoints', 'step-000004.ckpt');
    writeFileSync(saved, encodeCheckpoint(decodeCheckpoint(readFileSync(saved), checkpointKey(run), saved), runConfigHash(run)));
    const extended = await runToEnd([...ARGS, '--steps', '7', '--workers', '2', '--run-dir', dir, '--resume']);
    expect(extended.proc.stderr).toMatch(/resumed from .*step-000004\.ckpt at step 4[\s\S]*--steps 7: the run goes on to step 7 \(it was set to 4\)/);
    const fresh = (await runToEnd([...ARGS, '--steps', '7', '--in-process', '--run-dir', runDir()])).summary;
    expect(extended.summary.steps).toBe(7);
    expect(extended.summary.weightsSha256).toBe(fresh.weightsSha256);
    expect(readMetrics(dir).map((m) => m.step)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect((JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { run: { steps: number } }).run.steps).toBe(7);
    // The step it resumed from was saved again under the length-free key, before config.json changed.
    expect(decodeCheckpoint(readFileSync(saved), checkpointKey(run), saved).nextStep).toBe(4);
    const shorter = startCoordinator([...ARGS, '--steps', '7', '--in-process', '--run-dir', dir, '--resume']);
    expect((await shorter.exited).code).toBe(0); // the run's own length: nothing left to do
    const back = startCoordinator([...ARGS, '--steps', '5', '--in-process', '--run-dir', dir, '--resume']);
    expect((await back.exited).code).toBe(1);
    expect(back.stderr).toMatch(/--steps 5: .* is already at step 7; pass more steps to continue it/);
    expect(readSummary(dir).weightsSha256).toBe(fresh.weightsSha256);
  });
});
