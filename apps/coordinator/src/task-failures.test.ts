import { describe, expect, it } from 'vitest';
import { failedTaskKey, TaskFailures } from './task-failures.js';

const rule = () => new TaskFailures({ failuresToSetAside: 2, failuresToStop: 3 });

describe('TaskFailures', () => {
  it('never stops while a connected worker has not failed the task, however often another fails it', () => {
    const f = rule();
    for (let i = 0; i < 50; i++) {
      // The liar reconnects under a new connection id each time; the honest worker stays connected.
      const verdict = f.failed(`liar-${i}`, 'liar@h/1', '0/D/1', [`liar-${i}`, 'honest']);
      expect(verdict.stop).toBe(false);
      expect(verdict.attempts).toBe(i + 1);
    }
  });

  it('stops when the task failed enough times and every connected worker has failed it', () => {
    const f = rule();
    expect(f.failed('a', 'a@h/1', '3/G/0', ['a', 'b']).stop).toBe(false);
    expect(f.failed('b', 'b@h/2', '3/G/0', ['a', 'b']).stop).toBe(false); // all failed it, but only twice
    expect(f.failed('a2', 'a@h/1', '3/G/0', ['b', 'a2'])).toEqual({ setAside: true, stop: true, attempts: 3 });
  });

  it('stops a lone worker that fails the same task three times, as a broken backend does', () => {
    const f = rule();
    const verdicts = [1, 2, 3].map((n) => f.failed(`w${n}`, 'only@h/9', '0/D/0', [`w${n}`]));
    expect(verdicts.map((v) => v.stop)).toEqual([false, false, true]);
  });

  it('sets an identity aside after failures in a row, and an accepted result starts its count again', () => {
    const f = rule();
    expect(f.failed('w1', 'x@h/1', '0/D/0', ['w1', 'y']).setAside).toBe(false);
    f.succeeded('x@h/1');
    expect(f.failed('w1', 'x@h/1', '0/D/1', ['w1', 'y']).setAside).toBe(false);
    expect(f.failed('w2', 'x@h/1', '0/D/2', ['w2', 'y']).setAside).toBe(true);
    expect(f.isSetAside('x@h/1')).toBe(true);
    expect(f.failed('w3', 'x@h/1', '0/D/3', ['w3', 'y']).setAside).toBe(false); // already aside: said once
    expect(f.isSetAside('y@h/2')).toBe(false);
  });

  it('forgets which tasks failed at a new phase, not who is set aside', () => {
    const f = rule();
    f.failed('w1', 'x@h/1', '0/D/0', ['w1']);
    f.failed('w1', 'x@h/1', '0/D/0', ['w1']);
    expect([...f.failedBy('0/D/0')]).toEqual(['w1']);
    f.startPhase();
    expect(f.failedBy('0/D/0').size).toBe(0);
    expect(f.failed('w1', 'x@h/1', '0/D/0', ['w1']).attempts).toBe(1);
    expect(f.isSetAside('x@h/1')).toBe(true);
  });

  it("reads the task from distgan's worker text, and nothing else", () => {
    expect(failedTaskKey('task 12/G/3: kernel Foo is broken')).toBe('12/G/3');
    expect(failedTaskKey('kernel Foo is broken (task 12/G/3)')).toBeNull();
    expect(failedTaskKey('task 1/X/3: nope')).toBeNull();
    expect(failedTaskKey('task 104/D/10: out of memory')).toBe('104/D/10');
    expect(failedTaskKey('a task 1/D/1: quoted')).toBeNull();
  });

  it('never stops the run for a failure that names no task, though it counts toward setting its worker aside', () => {
    const f = new TaskFailures({ failuresToStop: 1, failuresToSetAside: 2 });
    expect(f.failed('w1', 'x@h/1', null, ['w1'])).toEqual({ setAside: false, stop: false, attempts: 0 });
    expect(f.failed('w1', 'x@h/1', null, ['w1'])).toEqual({ setAside: true, stop: false, attempts: 0 });
  });
});
