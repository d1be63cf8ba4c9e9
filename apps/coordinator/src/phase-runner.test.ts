import type { ProtocolError, ResultMessage } from '@distgan/protocol';
import { makeRunConfig, PhaseAbortedError, planTasks, TrainingState, type PhasePlan, type ShardTask } from '@distgan/training';
import { describe, expect, it } from 'vitest';
import { PhaseRunner, type RunnerConnection } from './phase-runner.js';
import { PoolCounters } from './pool-counters.js';
import { taskKey } from './scheduler.js';

const config = makeRunConfig('tiny', { shards: 4 });
const state = new TrainingState(config);

/** A phase's plan over `state` that records what it accepts, complete once every shard is in. */
function phasePlan(step: number, phase: 'D' | 'G'): PhasePlan & { readonly accepted: number[] } {
  const tasks = planTasks(state, step, phase, 1_000);
  const accepted: number[] = [];
  return {
    step,
    phase,
    tasks,
    state,
    accepted,
    accept: (r) => {
      if (accepted.includes(r.shard)) return false;
      accepted.push(r.shard);
      return true;
    },
    isComplete: () => accepted.length === tasks.length,
  };
}

function resultFor(task: Pick<ShardTask, 'step' | 'phase' | 'shard'>): ResultMessage {
  return { type: 'result', ...task, gradient: new Float32Array(1), lossSum: 0, dRealSum: 0, dFakeSum: 0, computeMs: 2, cpuMs: 3 };
}

/** A runner over worker stand-ins (the runner reads ids and labels and counts shards, nothing of sockets). */
function runner(names: readonly string[]) {
  const workers = new Map<string, RunnerConnection>(
    names.map((id) => [id, { id, label: id, info: undefined, state: 'ready' as const, shardsDone: 0, computeMs: 0 }]),
  );
  const delivered: string[] = [];
  const violations: string[] = [];
  const log: string[] = [];
  const counters = new PoolCounters();
  const r = new PhaseRunner<RunnerConnection>({
    maxInFlight: 1,
    taskTimeoutMs: 1_000,
    strikesToSetAside: 2,
    failuresToStop: 3,
    failuresToSetAside: 2,
    checker: null,
    counters,
    log: (m) => log.push(m),
    trace: () => undefined,
    connection: (id) => workers.get(id),
    ready: () => [...workers.values()],
    deliver: (c, _plan, task, withTask) => {
      if (withTask) delivered.push(`${c.id}:${taskKey(task)}`);
    },
    violation: (c, err: ProtocolError) => violations.push(`${c.id}:${err.code}`),
  });
  for (const w of workers.values()) r.joined(w);
  const worker = (id: string) => workers.get(id)!;
  return { r, worker, workers, delivered, violations, log, counters };
}

describe('PhaseRunner', () => {
  it('hands a phase out round-robin, a task at a time, and resolves once every shard is in; counts each worker', async () => {
    const { r, worker, delivered, counters } = runner(['a', 'b']);
    const plan = phasePlan(0, 'D');
    const done = r.run(plan);
    expect(r.current).toBe(plan);
    expect(delivered).toEqual(['a:0/D/0', 'b:0/D/1']);
    r.result(worker('a'), resultFor(plan.tasks[0]!));
    expect(delivered.at(-1)).toBe('a:0/D/2');
    r.result(worker('b'), resultFor(plan.tasks[1]!));
    r.result(worker('a'), resultFor(plan.tasks[2]!));
    r.result(worker('b'), resultFor(plan.tasks[3]!));
    await done;
    expect(r.current).toBeNull();
    expect(plan.accepted).toEqual([0, 1, 2, 3]);
    expect([worker('a').shardsDone, worker('b').computeMs]).toEqual([2, 4]);
    expect(counters.takeStep(2, undefined)).toMatchObject({ shardsByWorker: { a: 2, b: 2 }, shardComputeMs: 8, workerCpuMs: 12 });
  });

  it('closes a worker that answers a task it was never given, and drops a late answer without counting it', async () => {
    const { r, worker, violations, delivered } = runner(['a', 'b']);
    const plan = phasePlan(0, 'G');
    const done = r.run(plan);
    r.result(worker('a'), resultFor(plan.tasks[1]!)); // b's
    expect(violations).toEqual(['a:NOT_IN_FLIGHT']);
    r.expire(Date.now() + 5_000); // both overran: their tasks go to the other
    expect(delivered.slice(2)).toEqual(['a:0/G/1', 'b:0/G/0']);
    r.result(worker('a'), resultFor(plan.tasks[0]!)); // taken back from a: late
    expect(plan.accepted).toEqual([]);
    for (const [w, shard] of [
      ['a', 1],
      ['b', 0],
    ] as const)
      r.result(worker(w), resultFor(plan.tasks[shard]!));
    expect(plan.accepted).toEqual([1, 0]);
    r.abort('test over');
    await expect(done).rejects.toThrow(PhaseAbortedError);
  });

  it('gives a task that failed to another worker, and fails the phase once it failed on every worker', async () => {
    const { r, worker, delivered, log } = runner(['a', 'b']);
    const plan = phasePlan(3, 'D');
    const done = r.run(plan);
    const failure = (shard: number) => ({ type: 'error' as const, code: 'WORKER_FAILED' as const, message: `task 3/D/${shard}: out of memory` });
    r.taskFailed(worker('a'), failure(0));
    expect(delivered.at(-1)).toBe('a:3/D/2'); // not the task it failed while another worker can take that
    r.result(worker('b'), resultFor(plan.tasks[1]!));
    expect(delivered.at(-1)).toBe('b:3/D/0');
    r.taskFailed(worker('b'), failure(0));
    r.taskFailed(worker('a'), failure(0));
    await expect(done).rejects.toThrow(/task 3\/D\/0 failed 3 times, on every connected worker \(the last: task 3\/D\/0: out of memory\)/);
    expect(log.some((l) => l.startsWith('worker a set aside: its tasks failed 2 times in a row'))).toBe(true);
  });

  it("ends the next phase at once when asked to stop between phases with no worker ready, and a phase in progress with its phase's name", async () => {
    const { r, workers } = runner(['a']);
    const first = r.run(phasePlan(0, 'D'));
    r.abort('SIGTERM');
    await expect(first).rejects.toThrow('D phase stopped: SIGTERM');
    r.abort('SIGTERM with no worker connected');
    workers.clear();
    await expect(r.run(phasePlan(0, 'G'))).rejects.toThrow('G phase stopped: SIGTERM with no worker connected');
  });

  it("requeues a leaving worker's tasks for the others", async () => {
    const { r, worker, workers, delivered } = runner(['a', 'b']);
    const plan = phasePlan(1, 'G');
    const done = r.run(plan);
    const a = worker('a');
    workers.delete('a');
    expect(r.left(a)).toBe(1);
    r.result(worker('b'), resultFor(plan.tasks[1]!));
    expect(delivered.slice(2)).toEqual(['b:1/G/0']);
    for (const shard of [0, 2, 3]) {
      r.result(worker('b'), resultFor(plan.tasks[shard]!));
    }
    await done;
    expect(plan.accepted).toEqual([1, 0, 2, 3]);
  });
});
