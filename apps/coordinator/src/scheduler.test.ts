import type { ShardTask } from '@distgan/training';
import { describe, expect, it } from 'vitest';
import { Scheduler, taskKey, type Assignment } from './scheduler.js';

const TIMEOUT = 1_000;

function tasks(step: number, phase: 'D' | 'G', shards: number, versions = { dVersion: step, gVersion: step }): ShardTask[] {
  return Array.from({ length: shards }, (_, shard) => ({ step, phase, shard, start: shard * 8, count: 8, ...versions, indices: null }));
}

function scheduler(strikesToSetAside = 2, maxInFlight = 2): Scheduler {
  return new Scheduler({ maxInFlight, taskTimeoutMs: TIMEOUT, strikesToSetAside });
}

const show = (assignments: readonly Assignment[]) => assignments.map((a) => `${a.worker}:${taskKey(a.task)}`);

describe('Scheduler: handing out', () => {
  it('deals round-robin to idle workers, at most maxInFlight each, queueing the rest', () => {
    const s = scheduler();
    s.join('a');
    s.join('b');
    s.startPhase(tasks(0, 'D', 5), [], 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/D/0', 'b:0/D/1', 'a:0/D/2', 'b:0/D/3']);
    expect(s.queued().map(taskKey)).toEqual(['0/D/4']);
    expect(s.result('a', { step: 0, phase: 'D', shard: 0 })).toBe('inFlight');
    expect(show(s.dispatch(1))).toEqual(['a:0/D/4']);
  });

  it('hands out the upcoming tasks once the phase queue is empty, and counts their deadline from their phase start', () => {
    const s = scheduler();
    s.join('a');
    s.startPhase(tasks(0, 'G', 1), tasks(1, 'D', 2, { dVersion: 1, gVersion: 1 }), 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/G/0', 'a:1/D/0']);
    expect(s.result('a', { step: 0, phase: 'G', shard: 0 })).toBe('inFlight');
    s.endPhase();
    const held = s.startPhase(tasks(1, 'D', 2, { dVersion: 1, gVersion: 1 }), [], 5 * TIMEOUT);
    expect(show(held)).toEqual(['a:1/D/0']);
    expect(s.expire(5 * TIMEOUT + TIMEOUT)).toEqual([]); // not overdue: the deadline restarted at the phase start
    expect(show(s.dispatch(5 * TIMEOUT))).toEqual(['a:1/D/1']);
  });

  it('queues a held-ahead task again when its snapshot versions differ from the plan', () => {
    const s = scheduler();
    s.join('a');
    s.startPhase(tasks(0, 'G', 1), tasks(1, 'D', 1, { dVersion: 1, gVersion: 7 }), 0);
    s.dispatch(0);
    s.result('a', { step: 0, phase: 'G', shard: 0 });
    expect(s.startPhase(tasks(1, 'D', 1, { dVersion: 1, gVersion: 1 }), [], 10)).toEqual([]);
    expect(s.queued().map(taskKey)).toEqual(['1/D/0']);
  });

  it("requeues a leaving worker's tasks of the current phase for the others", () => {
    const s = scheduler();
    s.join('a');
    s.join('b');
    s.startPhase(tasks(0, 'D', 2), [], 0);
    s.dispatch(0);
    expect(s.leave('a').map(taskKey)).toEqual(['0/D/0']);
    expect(show(s.dispatch(1))).toEqual(['b:0/D/0']);
  });
});

describe('Scheduler: deadlines', () => {
  it('gives an overdue task to a different worker, never back to the one that overran it, while another is connected', () => {
    for (const silentJoinsFirst of [true, false]) {
      const s = scheduler();
      const [first, second] = silentJoinsFirst ? ['silent', 'honest'] : ['honest', 'silent'];
      s.join(first);
      s.join(second);
      s.startPhase(tasks(0, 'D', 2), [], 0);
      const given = s.dispatch(0);
      const silentTask = given.find((a) => a.worker === 'silent')!.task;
      const honestTask = given.find((a) => a.worker === 'honest')!.task;
      expect(s.result('honest', honestTask)).toBe('inFlight');
      s.credit('honest');
      expect(s.dispatch(10)).toEqual([]); // nothing queued: the silent worker still has its deadline
      expect(s.expire(TIMEOUT)).toEqual([]);
      const [overrun] = s.expire(TIMEOUT + 1);
      expect(overrun).toEqual({ worker: 'silent', tasks: [silentTask], setAside: false });
      // The silent worker has the most room now, yet the task goes to the honest one.
      expect(show(s.dispatch(TIMEOUT + 1))).toEqual([`honest:${taskKey(silentTask)}`]);
    }
  });

  it('holds an overdue task for the other worker while that one is busy, rather than return it to the worker that overran it', () => {
    const s = scheduler(2, 1);
    s.join('silent');
    s.join('honest');
    s.startPhase(tasks(0, 'D', 4), [], 0);
    expect(show(s.dispatch(0))).toEqual(['silent:0/D/0', 'honest:0/D/1']);
    s.result('honest', { step: 0, phase: 'D', shard: 1 });
    expect(show(s.dispatch(10))).toEqual(['honest:0/D/2']);
    expect(s.expire(TIMEOUT + 1).map((o) => o.worker)).toEqual(['silent']);
    expect(show(s.dispatch(TIMEOUT + 1))).toEqual(['silent:0/D/3']); // silent may take a task it never overran...
    s.result('silent', { step: 0, phase: 'D', shard: 3 });
    expect(show(s.dispatch(TIMEOUT + 2))).toEqual([]); // ...but 0/D/0 waits for honest, who is full
    s.result('honest', { step: 0, phase: 'D', shard: 2 });
    expect(show(s.dispatch(TIMEOUT + 3))).toEqual(['honest:0/D/0']);
  });

  it('sets aside a worker that overruns deadlines in a row; it gets tasks only when no other worker can take them', () => {
    const s = scheduler(2, 1);
    s.join('silent');
    s.join('honest');
    s.startPhase(tasks(0, 'D', 2), [], 0);
    s.dispatch(0); // silent: 0/D/0, honest: 0/D/1
    s.result('honest', { step: 0, phase: 'D', shard: 1 });
    expect(s.expire(TIMEOUT + 1)).toEqual([{ worker: 'silent', tasks: tasks(0, 'D', 1), setAside: false }]);
    expect(show(s.dispatch(TIMEOUT + 1))).toEqual(['honest:0/D/0']);
    s.result('honest', { step: 0, phase: 'D', shard: 0 });
    s.endPhase();
    s.startPhase(tasks(0, 'G', 2), [], 2 * TIMEOUT);
    expect(show(s.dispatch(2 * TIMEOUT))).toEqual(['silent:0/G/0', 'honest:0/G/1']);
    s.result('honest', { step: 0, phase: 'G', shard: 1 });
    expect(s.expire(3 * TIMEOUT + 1)).toEqual([{ worker: 'silent', tasks: tasks(0, 'G', 1), setAside: true }]);
    expect(s.isSetAside('silent')).toBe(true);
    expect(show(s.dispatch(3 * TIMEOUT + 1))).toEqual(['honest:0/G/0']);
    s.result('honest', { step: 0, phase: 'G', shard: 0 });
    s.endPhase();
    s.startPhase(tasks(1, 'D', 2), [], 4 * TIMEOUT);
    expect(show(s.dispatch(4 * TIMEOUT))).toEqual(['honest:1/D/0']); // silent has room but is set aside
    s.leave('honest');
    expect(show(s.dispatch(4 * TIMEOUT))).toEqual(['silent:1/D/0']); // the last worker standing, with the task honest held
  });

  it("clears a worker's overrun count when one of its results is accepted", () => {
    const s = scheduler(2, 1);
    s.join('slow');
    s.join('other');
    for (let step = 0; step < 3; step++) {
      s.startPhase(tasks(step, 'D', 1), [], step * 10 * TIMEOUT);
      const [first] = s.dispatch(step * 10 * TIMEOUT);
      if (first!.worker !== 'slow') continue;
      expect(s.expire(step * 10 * TIMEOUT + TIMEOUT + 1)[0]!.setAside).toBe(false);
      s.credit('slow'); // as if its next result had been accepted
      s.endPhase();
    }
    expect(s.isSetAside('slow')).toBe(false);
  });

  it('gives an overdue task back to the worker that overran it when it is the only one', () => {
    const s = scheduler();
    s.join('only');
    s.startPhase(tasks(0, 'D', 1), [], 0);
    s.dispatch(0);
    s.expire(TIMEOUT + 1);
    expect(show(s.dispatch(TIMEOUT + 1))).toEqual(['only:0/D/0']);
  });
});

describe('Scheduler: results', () => {
  it('calls a result late once its task was taken back, never-given when it was not handed out, and in flight when given again', () => {
    const s = scheduler();
    s.join('a');
    s.join('b');
    s.startPhase(tasks(0, 'D', 1), [], 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/D/0']);
    expect(s.result('b', { step: 0, phase: 'D', shard: 0 })).toBe('neverGiven');
    s.expire(TIMEOUT + 1);
    expect(show(s.dispatch(TIMEOUT + 1))).toEqual(['b:0/D/0']);
    expect(s.result('a', { step: 0, phase: 'D', shard: 0 })).toBe('late');
    expect(s.result('b', { step: 0, phase: 'D', shard: 0 })).toBe('inFlight');
    expect(s.result('b', { step: 0, phase: 'D', shard: 0 })).toBe('late'); // a repeat
    expect(s.result('a', { step: 5, phase: 'G', shard: 0 })).toBe('neverGiven');
    expect(s.result('gone', { step: 0, phase: 'D', shard: 0 })).toBe('neverGiven');
  });

  it('finishes every phase of a run with one silent worker in bounded time, whichever joined first', () => {
    for (const order of [
      ['silent', 'honest'],
      ['honest', 'silent'],
    ]) {
      const s = scheduler();
      for (const w of order) s.join(w);
      let now = 0;
      let overruns = 0;
      for (let step = 0; step < 20; step++) {
        for (const phase of ['D', 'G'] as const) {
          const pending = new Set(tasks(step, phase, 4).map(taskKey));
          s.startPhase(tasks(step, phase, 4), [], now);
          while (pending.size > 0) {
            for (const a of s.dispatch(now)) {
              if (a.worker === 'honest' && s.result('honest', a.task) === 'inFlight') {
                s.credit('honest');
                pending.delete(taskKey(a.task));
              }
            }
            now += 100;
            overruns += s.expire(now).length;
            expect(now, `${order.join(' then ')}: step ${step} ${phase}`).toBeLessThan(60 * TIMEOUT);
          }
          s.endPhase();
        }
      }
      expect(overruns).toBe(2); // then set aside for good
      expect(s.isSetAside('silent')).toBe(true);
    }
  });
});

describe('Scheduler: failed tasks and workers set aside', () => {
  it('takes a failed task back at once and gives it to another worker first', () => {
    const s = scheduler();
    s.join('a');
    s.join('b');
    s.startPhase(tasks(0, 'D', 2), [], 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/D/0', 'b:0/D/1']);
    expect(s.failed('a', '0/D/0')).toBe(true);
    expect(s.inFlight('a')).toBe(0);
    expect(show(s.dispatch(1))).toEqual(['b:0/D/0']); // a has room, but failed it
    expect(s.failed('a', '0/D/0')).toBe(false); // no longer held
  });

  it('gives a failed task back to the worker that failed it only when no other can take it', () => {
    const s = scheduler();
    s.join('a');
    s.startPhase(tasks(0, 'D', 1), [], 0);
    s.dispatch(0);
    s.failed('a', '0/D/0');
    expect(show(s.dispatch(1))).toEqual(['a:0/D/0']);
  });

  it('gives a worker set aside tasks only while no other worker is connected', () => {
    const s = scheduler();
    s.join('liar');
    s.join('honest');
    s.setAside('liar');
    expect(s.isSetAside('liar')).toBe(true);
    s.startPhase(tasks(0, 'D', 4), [], 0);
    expect(show(s.dispatch(0))).toEqual(['honest:0/D/0', 'honest:0/D/1']);
    s.leave('honest');
    expect(show(s.dispatch(1))).toEqual(['liar:0/D/0', 'liar:0/D/1']);
  });
});

describe('Scheduler: edges the mutation run found untested', () => {
  it('refuses a worker joining twice, and knows nothing of a worker that never joined', () => {
    const s = scheduler();
    s.join('a');
    expect(() => s.join('a')).toThrow('worker a joined twice');
    s.setAside('ghost');
    expect([s.isSetAside('ghost'), s.inFlight('ghost'), s.leave('ghost')]).toEqual([false, 0, []]);
  });

  it('takes a held-ahead task of other versions off its holder at the phase start', () => {
    const s = scheduler();
    s.join('a');
    s.startPhase(tasks(0, 'G', 1), tasks(1, 'D', 1, { dVersion: 1, gVersion: 7 }), 0);
    s.dispatch(0);
    s.result('a', { step: 0, phase: 'G', shard: 0 });
    expect(s.inFlight('a')).toBe(1); // the task handed out ahead
    s.startPhase(tasks(1, 'D', 1, { dVersion: 1, gVersion: 1 }), [], 10);
    expect(s.inFlight('a')).toBe(0);
    expect(show(s.dispatch(10))).toEqual(['a:1/D/0']);
    expect(s.inFlight('a')).toBe(1);
    // The same with D's version the one that differs.
    s.result('a', { step: 1, phase: 'D', shard: 0 });
    s.startPhase(tasks(1, 'G', 1, { dVersion: 2, gVersion: 1 }), tasks(2, 'D', 1, { dVersion: 9, gVersion: 2 }), 20);
    expect(show(s.dispatch(20))).toEqual(['a:1/G/0', 'a:2/D/0']);
    s.result('a', { step: 1, phase: 'G', shard: 0 });
    s.startPhase(tasks(2, 'D', 1, { dVersion: 2, gVersion: 2 }), [], 30);
    expect(s.inFlight('a')).toBe(0);
  });

  it('calls a result late for a task given in the previous step, never-given once two steps have passed', () => {
    const s = scheduler();
    s.join('a');
    s.join('b');
    s.startPhase(tasks(0, 'D', 1), [], 0);
    s.dispatch(0); // a holds 0/D/0
    s.expire(2 * TIMEOUT); // taken back: a's result is now late
    s.endPhase();
    s.startPhase(tasks(1, 'D', 1), [], 3 * TIMEOUT);
    expect(s.result('a', { step: 0, phase: 'D', shard: 0 })).toBe('late');
    s.endPhase();
    s.startPhase(tasks(2, 'D', 1), [], 4 * TIMEOUT);
    expect(s.result('a', { step: 0, phase: 'D', shard: 0 })).toBe('neverGiven');
  });

  it('forgets who overran a task when a phase starts: the same task again (after a return to an earlier step) goes round-robin', () => {
    const s = scheduler(5);
    s.join('a');
    s.join('b');
    s.startPhase(tasks(0, 'D', 1), [], 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/D/0']);
    s.expire(2 * TIMEOUT);
    expect(show(s.dispatch(2 * TIMEOUT))).toEqual(['b:0/D/0']);
    s.result('b', { step: 0, phase: 'D', shard: 0 });
    s.endPhase();
    s.startPhase(tasks(0, 'D', 1), [], 3 * TIMEOUT);
    expect(show(s.dispatch(3 * TIMEOUT))).toEqual(['a:0/D/0']);
    s.failed('a', '0/D/0');
    // Started again without ending it first: a forgets its failure too, and takes shard 0 first.
    s.startPhase(tasks(0, 'D', 2), [], 4 * TIMEOUT);
    expect(show(s.dispatch(4 * TIMEOUT))).toEqual(['a:0/D/0', 'b:0/D/1']);
  });

  it('hands out nothing between phases, even what was queued', () => {
    const s = scheduler(2, 1);
    s.join('a');
    s.startPhase(tasks(0, 'D', 3), [], 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/D/0']);
    s.result('a', { step: 0, phase: 'D', shard: 0 });
    s.endPhase();
    expect(s.dispatch(1)).toEqual([]);
    expect(s.queued()).toEqual([]);
  });

  it("requeues a leaving worker's current-phase tasks only, not those it held ahead for the next phase", () => {
    const s = scheduler();
    s.join('a');
    s.join('b');
    s.startPhase(tasks(0, 'G', 1), tasks(1, 'D', 1, { dVersion: 1, gVersion: 1 }), 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/G/0', 'b:1/D/0']);
    s.join('c');
    expect(s.leave('b').map(taskKey)).toEqual(['1/D/0']);
    expect(s.queued()).toEqual([]);
    expect(s.leave('a').map(taskKey)).toEqual(['0/G/0']);
    expect(s.queued().map(taskKey)).toEqual(['0/G/0']);
  });

  it("requeues none of a leaving worker's tasks of another step, even of the same phase letter", () => {
    const s = scheduler();
    s.join('a');
    s.join('b');
    s.startPhase(tasks(0, 'G', 1), tasks(1, 'D', 1, { dVersion: 1, gVersion: 1 }), 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/G/0', 'b:1/D/0']);
    s.result('a', { step: 0, phase: 'G', shard: 0 });
    // The run returns to step 0's D phase (a rewind) while b still holds step 1's D task.
    s.startPhase(tasks(0, 'D', 1), [], 10);
    expect(show(s.dispatch(10))).toEqual(['a:0/D/0']);
    expect(s.leave('b').map(taskKey)).toEqual(['1/D/0']);
    expect(s.queued()).toEqual([]);
    // Nor one of the same step and the other phase: step 0's G task a still holds.
    s.startPhase(tasks(0, 'G', 2), [], 20);
    expect(show(s.dispatch(20))).toEqual(['a:0/G/0']);
    s.startPhase(tasks(0, 'D', 1), [], 30);
    expect(s.leave('a').map(taskKey).sort()).toEqual(['0/D/0', '0/G/0']);
    expect(s.queued().map(taskKey)).toEqual(['0/D/0']);
  });

  it('deals to the worker holding the fewest tasks first, whatever the join order', () => {
    const s = scheduler(2, 3);
    s.join('a');
    s.join('b');
    s.startPhase(tasks(0, 'D', 6), tasks(1, 'D', 1, { dVersion: 1, gVersion: 1 }), 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/D/0', 'b:0/D/1', 'a:0/D/2', 'b:0/D/3', 'a:0/D/4', 'b:0/D/5']);
    for (const shard of [1, 3]) s.result('b', { step: 0, phase: 'D', shard });
    s.result('a', { step: 0, phase: 'D', shard: 0 });
    expect(show(s.dispatch(1))).toEqual(['b:1/D/0']); // b holds 1, a holds 2
  });

  it('gives a task every trusted worker overran to a set-aside worker that has not, before the ones that did', () => {
    const s = scheduler(5);
    s.join('a');
    s.join('aside');
    s.setAside('aside');
    s.startPhase(tasks(0, 'D', 1), [], 0);
    expect(show(s.dispatch(0))).toEqual(['a:0/D/0']);
    s.expire(2 * TIMEOUT);
    expect(show(s.dispatch(2 * TIMEOUT))).toEqual(['aside:0/D/0']);
  });
});
