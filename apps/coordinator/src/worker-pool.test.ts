import type { AddressInfo } from 'node:net';
import { parameterCount, parameterSpec } from '@distgan/models';
import { decodeCoordinatorMessage, encodeMessage, PROTOCOL_ERRORS, PROTOCOL_VERSION, type CoordinatorMessage, type WorkerMessage } from '@distgan/protocol';
import { makeRunConfig, planTasks, TrainingState, type PhasePlan } from '@distgan/training';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { WorkerPool } from './worker-pool.js';

const config = makeRunConfig('tiny', { shards: 2 });
const limits = { dParams: parameterCount(parameterSpec(config.model.discriminator)), gParams: parameterCount(parameterSpec(config.model.generator)) };
const identity = { config: config as unknown as Record<string, unknown>, configHash: 'c'.repeat(64), datasetFingerprint: 'f'.repeat(64) };
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A pool behind a real WebSocket server on loopback, and its log. */
async function poolOnLoopback(): Promise<{ pool: WorkerPool; url: string; log: string[] }> {
  const log: string[] = [];
  const pool = new WorkerPool({ ...identity, limits, log: (m) => log.push(m) });
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws, req) => pool.attach(ws, `${req.socket.remoteAddress}`));
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => {
    pool.close('test over');
    server.close();
  });
  return { pool, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, log };
}

/** A client speaking the protocol by hand: it answers every task with a gradient of ones, and records what it receives. */
async function handWorker(url: string): Promise<{ received: CoordinatorMessage['type'][] }> {
  const ws = new WebSocket(url);
  closers.push(() => ws.terminate());
  const received: CoordinatorMessage['type'][] = [];
  const send = (message: WorkerMessage) => ws.send(encodeMessage(message));
  ws.on('message', (data: Buffer) => {
    const message = decodeCoordinatorMessage(data);
    received.push(message.type);
    if (message.type === 'welcome') send({ type: 'ready', configHash: identity.configHash, datasetFingerprint: identity.datasetFingerprint });
    if (message.type !== 'task') return;
    const gradient = new Float32Array(message.phase === 'D' ? limits.dParams : limits.gParams).fill(1);
    send({
      type: 'result',
      step: message.step,
      phase: message.phase,
      shard: message.shard,
      gradient,
      lossSum: 1,
      dRealSum: 0.5,
      dFakeSum: 0.5,
      computeMs: 3,
      cpuMs: 4,
    });
  });
  await new Promise((resolve) => ws.once('open', resolve));
  send({ type: 'hello', protocol: PROTOCOL_VERSION, worker: { name: 'hand', host: 'test', pid: 1, backend: 'hand' }, snapshotDir: null });
  return { received };
}

function dPhase(state: TrainingState): PhasePlan & { readonly accepted: number[] } {
  const tasks = planTasks(state, 0, 'D', 1_000);
  const accepted: number[] = [];
  const accept = (r: { shard: number }) => !accepted.includes(r.shard) && accepted.push(r.shard) > 0;
  return { step: 0, phase: 'D', tasks, state, accepted, accept, isComplete: () => accepted.length === tasks.length };
}

describe('WorkerPool over real sockets on loopback', () => {
  it('welcomes a worker, sends it the snapshots and tasks of a phase, and completes the phase from its results', async () => {
    const { pool, url, log } = await poolOnLoopback();
    const worker = await handWorker(url);
    await pool.whenReady(1);
    expect(log.some((l) => /worker w1 .*joined \(backend hand\); 1 connected/.test(l))).toBe(true);
    const plan = dPhase(new TrainingState(config));
    await pool.runPhase(plan);
    expect(plan.accepted.sort()).toEqual([0, 1]);
    // Both networks' snapshots once, then the tasks (at most two held at a time).
    expect(worker.received.filter((t) => t === 'snapshot')).toHaveLength(2);
    expect(worker.received.filter((t) => t === 'task')).toHaveLength(2);
    expect(worker.received[0]).toBe('welcome');
    expect(pool.takeStepStats()).toMatchObject({ workers: 1, shardsByWorker: { w1: 2 }, shardComputeMs: 6, workerCpuMs: 8 });
    expect(pool.workers()).toMatchObject([{ id: 'w1', name: 'hand', backend: 'hand', shardsDone: 2, state: 'ready' }]);
  });

  it('refuses a ready for another run config, with its close code', async () => {
    const { url, log } = await poolOnLoopback();
    const ws = new WebSocket(url);
    closers.push(() => ws.terminate());
    await new Promise((resolve) => ws.once('open', resolve));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(encodeMessage({ type: 'hello', protocol: PROTOCOL_VERSION, worker: { name: 'x', host: 'y', pid: 2, backend: 'hand' }, snapshotDir: null }));
    ws.send(encodeMessage({ type: 'ready', configHash: 'd'.repeat(64), datasetFingerprint: identity.datasetFingerprint }));
    expect(await closed).toBe(PROTOCOL_ERRORS.CONFIG_MISMATCH.closeCode);
    expect(log.some((l) => /closing worker w1 .*config hash dddddddddddd != coordinator's cccccccccccc/.test(l))).toBe(true);
  });
});
