import { loadMnist } from '@distgan/mnist';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@distgan/runtime';
import { makeRunConfig, planTasks, ShardComputer, TrainingState, type ShardResult, type ShardTask } from '@distgan/training';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chosenForVerification, Referee, ResultChecker, resultSha256, RewindRequest, sameResult, VerificationLedger } from './verification.js';

const dataset = loadMnist();
const config = makeRunConfig('tiny');
const KEY = Buffer.alloc(32, 7);

beforeAll(async () => {
  await selectBackend();
});

function result(gradient: number[], stats: [number, number, number] = [1, 0.5, 0.25]): Pick<ShardResult, 'gradient' | 'lossSum' | 'dRealSum' | 'dFakeSum'> {
  return { gradient: Float32Array.from(gradient), lossSum: stats[0], dRealSum: stats[1], dFakeSum: stats[2] };
}

describe('which tasks are checked', () => {
  const tasks: ShardTask[] = [];
  for (let step = 0; step < 500; step++)
    for (const phase of ['D', 'G'] as const) for (let shard = 0; shard < 4; shard++) tasks.push({ step, phase, shard } as ShardTask);
  const chosen = (key: Buffer, fraction: number) => tasks.filter((t) => chosenForVerification(key, fraction, t));

  it('none at 0 (or below), all at 1 (or above), about the fraction between', () => {
    expect(chosen(KEY, 0)).toHaveLength(0);
    expect(chosen(KEY, -1)).toHaveLength(0);
    expect(chosen(KEY, 1)).toHaveLength(tasks.length);
    expect(chosen(KEY, 2)).toHaveLength(tasks.length);
    const share = chosen(KEY, 0.25).length / tasks.length;
    expect(share).toBeGreaterThan(0.22);
    expect(share).toBeLessThan(0.28);
  });

  it('depends on the key and on each of step, phase and shard, and a larger fraction only adds tasks', () => {
    const a = chosen(KEY, 0.5).map((t) => `${t.step}/${t.phase}/${t.shard}`);
    const b = chosen(Buffer.alloc(32, 8), 0.5).map((t) => `${t.step}/${t.phase}/${t.shard}`);
    expect(a).not.toEqual(b);
    const key = (t: Pick<ShardTask, 'step' | 'phase' | 'shard'>) => chosenForVerification(KEY, 0.5, t);
    expect(tasks.some((t) => key(t) !== key({ ...t, step: t.step + 1 }))).toBe(true);
    expect(tasks.some((t) => key(t) !== key({ ...t, phase: t.phase === 'D' ? 'G' : 'D' }))).toBe(true);
    expect(tasks.some((t) => key(t) !== key({ ...t, shard: t.shard + 1 }))).toBe(true);
    const quarter = new Set(chosen(KEY, 0.25));
    expect(chosen(KEY, 0.5).filter((t) => quarter.has(t))).toHaveLength(quarter.size);
  });
});

describe('comparing results', () => {
  it('sameResult: equal bits only, in the gradient and each statistic (-0 is not 0), through views at an offset', () => {
    const a = result([1, 2, 3]);
    expect(sameResult(a, result([1, 2, 3]))).toBe(true);
    expect(sameResult(a, result([1, 2, 3.0000002]))).toBe(false);
    expect(sameResult(a, result([1, 2]))).toBe(false);
    expect(sameResult(a, result([1, 2, 3], [1.5, 0.5, 0.25]))).toBe(false);
    expect(sameResult(a, result([1, 2, 3], [1, 0.75, 0.25]))).toBe(false);
    expect(sameResult(a, result([1, 2, 3], [1, 0.5, 0.5]))).toBe(false);
    expect(sameResult(result([0], [0, 0, 0]), result([0], [-0, 0, 0]))).toBe(false);
    expect(sameResult(result([1], [Number.NaN, 0, 0]), result([1], [Number.NaN, 0, 0]))).toBe(true);
    const backing = Float32Array.of(9, 1, 2, 3);
    expect(sameResult(a, { ...a, gradient: backing.subarray(1) })).toBe(true);
  });

  it('resultSha256: changes with any gradient byte or statistic, reads a view at its offset', () => {
    const base = resultSha256(result([1, 2, 3]));
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(resultSha256(result([1, 2, 3]))).toBe(base);
    for (const other of [result([1, 2, 4]), result([1, 2, 3], [2, 0.5, 0.25]), result([1, 2, 3], [1, 0.6, 0.25]), result([1, 2, 3], [1, 0.5, 0.3])]) {
      expect(resultSha256(other)).not.toBe(base);
    }
    const backing = Float32Array.of(9, 1, 2, 3);
    expect(resultSha256({ ...result([]), gradient: backing.subarray(1) })).toBe(base);
  });
});

describe('VerificationLedger', () => {
  it('remembers the first unverified result of each identity, which a conviction returns to once', () => {
    const ledger = new VerificationLedger();
    ledger.accepted('a', 3, true); // verified: nothing to undo
    ledger.accepted('a', 5, false);
    ledger.accepted('a', 7, false);
    ledger.accepted('b', 4, false);
    expect(ledger.isConvicted('a')).toBe(false);
    expect(ledger.convict('a')).toBe(5);
    expect(ledger.isConvicted('a')).toBe(true);
    expect(ledger.isConvicted('b')).toBe(false);
    expect(ledger.convict('a')).toBeUndefined();
    expect(ledger.convict('c')).toBeUndefined();
  });

  it('forgets results from the step the run returned to onward', () => {
    const ledger = new VerificationLedger();
    ledger.accepted('early', 2, false);
    ledger.accepted('at', 4, false);
    ledger.accepted('late', 6, false);
    ledger.rewound(4);
    expect([ledger.convict('early'), ledger.convict('at'), ledger.convict('late')]).toEqual([2, undefined, undefined]);
  });
});

describe('ResultChecker (the real shard computer as referee, tiny model)', () => {
  const state = new TrainingState(config);
  const task = planTasks(state, 0, 'D', dataset.count)[1]!;
  const computers: ShardComputer[] = [];
  afterAll(() => {
    for (const c of computers) c.dispose();
  });
  function checker(fraction: number, backend = 'here'): ResultChecker {
    const computer = new ShardComputer(config, dataset, { log: () => undefined });
    computers.push(computer);
    return new ResultChecker({ fraction, key: KEY, referee: new Referee(computer), backend });
  }
  /** What an honest worker returns for `at` at the state's snapshots (a computer of its own). */
  function computedAt(from: TrainingState, at: ShardTask): ShardResult {
    const computer = new ShardComputer(config, dataset, { log: () => undefined });
    computers.push(computer);
    for (const net of ['D', 'G'] as const) computer.networks.load(net, from.version(net), from.weights(net));
    return computer.compute(at);
  }
  const honest = () => computedAt(state, task);
  const worker = (identity: string, backend = 'here') => ({ identity, label: `${identity} (label)`, backend });

  it('verifies an honest result, and counts the checks until taken', () => {
    const c = checker(1);
    expect(c.check(state, task, honest(), worker('w'))).toEqual({ kind: 'verified' });
    expect(c.check(state, task, honest(), worker('w'))).toEqual({ kind: 'verified' });
    expect(c.takeVerified()).toBe(2);
    expect(c.takeVerified()).toBe(0);
  });

  it("convicts a wrong result with the evidence and the coordinator's own result, returning to its first unverified step", () => {
    const c = checker(1);
    c.ledger.accepted('liar', 0, false);
    const right = honest();
    const wrong = { ...right, gradient: right.gradient.map((g, i) => (i === 3 ? g + 1 : g)) };
    const outcome = c.check(state, task, wrong, worker('liar'));
    expect(outcome.kind).toBe('wrong');
    if (outcome.kind !== 'wrong') return;
    expect(sameResult(outcome.result, right)).toBe(true);
    expect(outcome.rewindTo).toBe(0);
    expect(outcome.evidence).toEqual({
      worker: 'liar (label)',
      step: task.step,
      phase: task.phase,
      shard: task.shard,
      workerSha256: resultSha256(wrong),
      coordinatorSha256: resultSha256(right),
    });
    expect(c.ledger.isConvicted('liar')).toBe(true);
  });

  it('leaves unchecked a worker on another backend, and an unchosen task of an unconvicted worker; checks every result of a convicted one', () => {
    const c = checker(0);
    const wrong = { ...honest(), lossSum: 12345 };
    expect(c.check(state, task, wrong, worker('w', 'elsewhere'))).toEqual({ kind: 'unchecked' });
    expect(c.canCheck('elsewhere')).toBe(false);
    expect(c.canCheck('here')).toBe(true);
    expect(c.check(state, task, wrong, worker('w'))).toEqual({ kind: 'unchecked' });
    expect(c.takeVerified()).toBe(0);
    c.ledger.convict('w');
    expect(c.check(state, task, wrong, worker('w')).kind).toBe('wrong');
    expect(c.check(state, task, honest(), worker('w'))).toEqual({ kind: 'verified' });
  });

  it('reloads the networks after the run returned to an earlier step (versions repeat with other weights)', () => {
    const c = checker(1);
    const other = new TrainingState(config);
    // Both states' D is at version 2, with different weights.
    other.apply('D', new Float64Array(other.dWeights.length).fill(1));
    other.apply('D', new Float64Array(other.dWeights.length).fill(-1));
    const later = planTasks(other, 0, 'D', dataset.count)[1]!;
    const atOther = computedAt(other, later);
    expect(c.check(other, later, atOther, worker('w'))).toEqual({ kind: 'verified' });
    // The same versions with the first weights: only a referee that forgot what it loaded agrees.
    const back = new TrainingState(config);
    back.apply('D', new Float64Array(back.dWeights.length).fill(0.5));
    back.apply('D', new Float64Array(back.dWeights.length).fill(0.5));
    const atBack = computedAt(back, later);
    expect(c.check(back, later, atBack, worker('w')).kind).toBe('wrong');
    c.rewound(0);
    expect(c.check(back, later, atBack, worker('v'))).toEqual({ kind: 'verified' });
  });

  /** A state with D and G both at version 1, reached with gradients filled with `fill`. */
  function atVersion1(fill: number): TrainingState {
    const s = new TrainingState(config);
    s.apply('D', new Float64Array(s.dWeights.length).fill(fill));
    s.apply('G', new Float64Array(s.gWeights.length).fill(fill));
    return s;
  }

  it('checks a first task at version 1 with the weights of version 1 (nothing counts as loaded before the first load)', () => {
    const c = checker(1);
    const at1 = atVersion1(0.3);
    const task1 = planTasks(at1, 0, 'D', dataset.count)[0]!;
    expect([task1.dVersion, task1.gVersion]).toEqual([1, 1]);
    expect(c.check(at1, task1, computedAt(at1, task1), worker('w'))).toEqual({ kind: 'verified' });
  });

  it('after a return to an earlier step, loads both networks again even at version 1', () => {
    const c = checker(1);
    const first = atVersion1(0.3);
    const task1 = planTasks(first, 0, 'D', dataset.count)[0]!;
    expect(c.check(first, task1, computedAt(first, task1), worker('w'))).toEqual({ kind: 'verified' });
    c.rewound(0);
    for (const net of ['D', 'G'] as const) {
      // Version 1 again, with other weights in one network only.
      const again = new TrainingState(config);
      again.apply('D', new Float64Array(again.dWeights.length).fill(net === 'D' ? -0.3 : 0.3));
      again.apply('G', new Float64Array(again.gWeights.length).fill(net === 'G' ? -0.3 : 0.3));
      expect(c.check(again, task1, computedAt(again, task1), worker('w'))).toEqual({ kind: 'verified' });
      c.rewound(0);
    }
  });

  it('leaves a worker on another backend unchecked even when every task is chosen', () => {
    const c = checker(1);
    expect(c.check(state, task, { ...honest(), lossSum: 99 }, worker('w', 'elsewhere'))).toEqual({ kind: 'unchecked' });
    expect(c.takeVerified()).toBe(0);
  });

  it("forgets, when the run returns to a step, a worker's unchecked results from there on", () => {
    const c = checker(1);
    c.ledger.accepted('w', 6, false);
    c.rewound(5);
    expect(c.ledger.convict('w')).toBeUndefined();
  });

  it("frees the referee's tensors when disposed, through the checker too", () => {
    const before = tf.memory().numTensors;
    const computer = new ShardComputer(config, dataset, { log: () => undefined });
    computer.networks.load('D', 0, state.dWeights);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    new ResultChecker({ fraction: 1, key: KEY, referee: new Referee(computer), backend: 'here' }).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('asks for a return with the step and the evidence in its message', () => {
    const evidence = { worker: 'w1 (x@h, pid 1)', step: 4, phase: 'G' as const, shard: 2, workerSha256: 'a'.repeat(64), coordinatorSha256: 'b'.repeat(64) };
    const request = new RewindRequest(3, evidence);
    expect(request.name).toBe('RewindRequest');
    expect(request.message).toBe('return to step 3: worker w1 (x@h, pid 1) returned a wrong result for 4/G/2');
    expect([request.toStep, request.evidence]).toEqual([3, evidence]);
  });

  it('reports a referee whose two computations differ instead of blaming the worker', () => {
    let calls = 0;
    const flaky = {
      networks: { load: () => undefined },
      compute: () => ({ ...honest(), lossSum: calls++ }),
      dispose: () => undefined,
    } as unknown as ShardComputer;
    const c = new ResultChecker({ fraction: 1, key: KEY, referee: new Referee(flaky), backend: 'here' });
    expect(c.check(state, task, honest(), worker('w'))).toEqual({ kind: 'refereeInconsistent', task: `${task.step}/${task.phase}/${task.shard}` });
    expect(c.ledger.isConvicted('w')).toBe(false);
  });
});
