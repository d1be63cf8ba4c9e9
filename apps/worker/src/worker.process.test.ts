import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadMnist, type MnistDataset } from '@distgan/mnist';
import { selectBackend } from '@distgan/runtime';
import { CLOSE_TRAINING_DONE, decodeFrame, encodeMessage, PROTOCOL_VERSION } from '@distgan/protocol';
import { makeRunConfig, planTasks, runConfigHash, ShardComputer, TrainingState, type RunConfig, type ShardTask } from '@distgan/training';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const TINY_CONFIG = JSON.parse(JSON.stringify(makeRunConfig('tiny'))) as Record<string, unknown>;

/** The coordinator's welcome for the tiny preset and the bundled MNIST files. */
function tinyWelcome(): Uint8Array {
  const config = TINY_CONFIG as unknown as RunConfig;
  return encodeMessage({
    type: 'welcome',
    protocol: PROTOCOL_VERSION,
    workerId: 'w1',
    config: TINY_CONFIG,
    configHash: runConfigHash(config),
    datasetFingerprint: loadMnist().fingerprint,
  });
}

interface Run {
  code: number | null;
  stderr: string;
  stdout: string;
}

const pids = new Set<number>();
afterEach(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  pids.clear();
});

function runWorker(args: string[], onSpawn?: (pid: number) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, DISTGAN_TOKEN: '' } });
    pids.add(child.pid!);
    onSpawn?.(child.pid!);
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.on('exit', (code) => {
      pids.delete(child.pid!);
      resolve({ code, stderr, stdout });
    });
  });
}

/** A result's gradient bytes as float32 (copied: the frame's offset need not be aligned). */
function float32Of(bytes: Uint8Array): Float32Array {
  return new Float32Array(new Uint8Array(bytes).buffer);
}

/** The gradient of `task` computed here, on the cpu backend the workers under test use, at the given weights. */
async function gradientAt(config: RunConfig, dataset: MnistDataset, task: ShardTask, d: Float32Array, g: Float32Array): Promise<Float32Array> {
  await selectBackend('cpu');
  const computer = new ShardComputer(config, dataset, { log: () => undefined });
  try {
    computer.networks.load('D', task.dVersion, d);
    computer.networks.load('G', task.gVersion, g);
    return computer.compute(task).gradient;
  } finally {
    computer.dispose();
  }
}

/** A real WebSocket server on port 0 playing a (possibly hostile) coordinator. */
async function peer(
  onConnection: (ws: WebSocket) => void,
): Promise<{ url: string; close: () => void; closes: { code: number; reason: string }[]; clients: () => WebSocket[] }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  const closes: { code: number; reason: string }[] = [];
  wss.on('connection', (ws) => {
    ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
    onConnection(ws);
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, close: () => wss.close(), closes, clients: () => [...wss.clients] };
}

describe('distgan-worker', () => {
  it('--help lists every flag', async () => {
    const { stdout, code } = await runWorker(['--help']);
    expect(code).toBe(0);
    for (const flag of ['--connect', '--token', '--backend', '--data-dir', '--name', '--ca', '--give-up-after', '--delay-ms']) expect(stdout).toContain(flag);
  });

  it('gives up with a clear error when no coordinator can be reached', async () => {
    const { code, stderr } = await runWorker(['--connect', 'ws://127.0.0.1:1', '--give-up-after', '1', '--backend', 'cpu']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/GAVE_UP: no coordinator at ws:\/\/127\.0\.0\.1:1/);
  });

  it('closes with BAD_FRAME (4000) when the coordinator sends garbage, then reconnects', async () => {
    let connections = 0;
    const server = await peer((ws) => {
      connections++;
      ws.on('message', () => ws.send(Uint8Array.of(0xc1, 0xc1, 0xc1)));
    });
    const run = runWorker(['--connect', server.url, '--backend', 'cpu']);
    await expect.poll(() => connections, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect(server.closes[0]).toEqual({ code: 4000, reason: expect.stringMatching(/^BAD_FRAME/) });
    server.close();
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    expect((await run).code).toBe(0);
  });

  it('sends hello with the protocol version, and exits 3 with CONFIG_MISMATCH (close 4004) for an unusable config', async () => {
    const server = await peer((ws) => {
      ws.once('message', (data) => {
        const hello = decodeFrame(data as Buffer);
        expect(hello.type).toBe('hello');
        expect(hello.protocol).toBe(PROTOCOL_VERSION);
        ws.send(
          encodeMessage({
            type: 'welcome',
            protocol: PROTOCOL_VERSION,
            workerId: 'w1',
            config: { preset: 'tiny' } as Record<string, unknown>,
            configHash: '0'.repeat(64),
            datasetFingerprint: 'f'.repeat(64),
          }),
        );
      });
    });
    const { code, stderr } = await runWorker(['--connect', server.url, '--backend', 'cpu']);
    server.close();
    // An invalid config is reported as CONFIG_MISMATCH before the dataset is even compared.
    expect(code).toBe(3);
    expect(stderr).toMatch(/CONFIG_MISMATCH/);
    expect(server.closes[0]?.code).toBe(4004);
  });

  it('closes with BAD_FIELD (4002) instead of crashing on a snapshot of the wrong size', async () => {
    const server = await peer((ws) => {
      ws.once('message', () => {
        ws.send(tinyWelcome());
        ws.once('message', () => ws.send(encodeMessage({ type: 'snapshot', net: 'D', version: 0, weights: new Float32Array(7) })));
      });
    });
    const run = runWorker(['--connect', server.url, '--backend', 'cpu']);
    await expect.poll(() => server.closes.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
    expect(server.closes[0]).toEqual({ code: 4002, reason: expect.stringMatching(/^BAD_FIELD: snapshot of D: D snapshot has 7 floats/) });
    server.close();
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    expect((await run).code).toBe(0); // it reconnected and was still alive
  });

  it('holds a task that names a snapshot it lacks until that snapshot arrives, then answers it at those weights', async () => {
    const config = TINY_CONFIG as unknown as RunConfig;
    const state = new TrainingState(config);
    const dataset = loadMnist();
    const gNext = state.gWeights.map((w) => w * 0.5);
    // A D task ahead of G's next version, as the coordinator sends one during a G phase.
    const task = { ...planTasks(state, 1, 'D', dataset.count)[0]!, gVersion: 1 };
    const events: string[] = [];
    let gradient: Float32Array | undefined;
    const server = await peer((ws) => {
      ws.on('message', (data) => {
        const message = decodeFrame(data as Buffer);
        if (message.type === 'hello') {
          ws.send(tinyWelcome());
        } else if (message.type === 'ready') {
          ws.send(encodeMessage({ type: 'snapshot', net: 'D', version: 0, weights: state.dWeights }));
          ws.send(encodeMessage({ type: 'snapshot', net: 'G', version: 0, weights: state.gWeights }));
          ws.send(encodeMessage({ type: 'task', ...task }));
          // Time for a worker that did not wait to answer at G@0 (the gradient check below catches it either way).
          setTimeout(() => {
            events.push('sent G@1');
            ws.send(encodeMessage({ type: 'snapshot', net: 'G', version: 1, weights: gNext }));
          }, 1_500);
        } else if (message.type === 'result') {
          events.push(`result ${message.step as number}/${message.phase as string}/${message.shard as number}`);
          gradient = float32Of(message.gradient as Uint8Array);
        }
      });
    });
    const run = runWorker(['--connect', server.url, '--backend', 'cpu']);
    await expect.poll(() => events.length, { timeout: 30_000 }).toBe(2);
    expect(events).toEqual(['sent G@1', 'result 1/D/0']);
    const atNext = await gradientAt(config, dataset, task, state.dWeights, gNext);
    const atOld = await gradientAt(config, dataset, task, state.dWeights, state.gWeights);
    expect(Buffer.from(gradient!.buffer, gradient!.byteOffset, gradient!.byteLength).equals(Buffer.from(atNext.buffer))).toBe(true);
    expect(Buffer.from(atOld.buffer).equals(Buffer.from(atNext.buffer))).toBe(false);
    server.close();
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    expect((await run).code).toBe(0);
  });

  it('with --shared-snapshots, says its folder in hello, reads snapshots from files there (a file already gone is skipped) and returns its gradient in a file there', async () => {
    const config = TINY_CONFIG as unknown as RunConfig;
    const state = new TrainingState(config);
    const dataset = loadMnist();
    const dir = mkdtempSync(join(tmpdir(), 'distgan-shared-test-'));
    const write = (file: string, weights: Float32Array) =>
      writeFileSync(join(dir, file), new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
    write('D-0-1.f32', state.dWeights);
    write('G-0-2.f32', state.gWeights);
    write('bad.f32', new Float32Array(7));
    const task = planTasks(state, 0, 'D', dataset.count)[0]!;
    let hello: Record<string, unknown> | undefined;
    let gradient: Float32Array | undefined;
    let resultFile = '';
    const server = await peer((ws) => {
      ws.on('message', (data) => {
        const message = decodeFrame(data as Buffer);
        if (message.type === 'hello') {
          hello ??= message;
          ws.send(tinyWelcome());
        } else if (message.type === 'ready' && !gradient) {
          ws.send(encodeMessage({ type: 'snapshotFile', net: 'D', version: 0, file: 'D-0-1.f32' }));
          ws.send(encodeMessage({ type: 'snapshotFile', net: 'G', version: 0, file: 'gone.f32' }));
          ws.send(encodeMessage({ type: 'snapshotFile', net: 'G', version: 0, file: 'G-0-2.f32' }));
          ws.send(encodeMessage({ type: 'task', ...task }));
        } else if (message.type === 'ready') {
          ws.send(encodeMessage({ type: 'snapshotFile', net: 'D', version: 1, file: 'bad.f32' }));
        } else if (message.type === 'resultFile') {
          resultFile = message.file as string;
          gradient = float32Of(readFileSync(join(dir, resultFile)));
        }
      });
    });
    // Result files are the node backend's default; --result-files asks for them on cpu.
    const run = runWorker(['--connect', server.url, '--backend', 'cpu', '--shared-snapshots', dir, '--result-files']);
    await expect.poll(() => gradient, { timeout: 30_000 }).toBeDefined();
    expect(hello?.snapshotDir).toBe(dir);
    expect(resultFile).toBe('r-w1-1.f32'); // named after the welcome's workerId
    const expected = await gradientAt(config, dataset, task, state.dWeights, state.gWeights);
    expect(Buffer.from(gradient!.buffer, gradient!.byteOffset, gradient!.byteLength).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(server.closes).toEqual([]);
    // Reconnecting, it is sent a file of the wrong size: refused like a wrong-sized snapshot frame.
    server.closes.length = 0;
    for (const client of server.clients()) client.close(1012, 'reconnect');
    await expect.poll(() => server.closes.some((c) => c.code === 4002), { timeout: 30_000 }).toBe(true);
    expect(server.closes.find((c) => c.code === 4002)?.reason).toMatch(/^BAD_FIELD: snapshot of D: D snapshot has 7 floats/);
    server.close();
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    expect((await run).code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 when the coordinator says done', async () => {
    const server = await peer((ws) =>
      ws.once('message', () => {
        ws.send(encodeMessage({ type: 'done', reason: 'finished' }));
        ws.close(CLOSE_TRAINING_DONE, 'bye');
      }),
    );
    const { code, stderr } = await runWorker(['--connect', server.url, '--backend', 'cpu']);
    server.close();
    expect(code).toBe(0);
    expect(stderr).toMatch(/coordinator says done: finished/);
  });
});
