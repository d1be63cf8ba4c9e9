import type { TaskMessage } from '@distgan/protocol';
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { TaskQueue, type QueuedTask } from './task-queue.js';

const ws = {} as WebSocket;
const task = (phase: 'D' | 'G', shard: number, dVersion: number, gVersion: number): QueuedTask => ({
  task: { type: 'task', step: 0, phase, shard, start: 0, count: 1, dVersion, gVersion, indices: null } as TaskMessage,
  ws,
});

describe('TaskQueue', () => {
  it('takes out the first task computable at the held versions, in arrival order', () => {
    const q = new TaskQueue();
    const early = task('D', 0, 1, 2);
    const ready1 = task('G', 1, 1, 1);
    const ready2 = task('G', 2, 1, 1);
    for (const t of [early, ready1, ready2]) q.push(t);
    expect(q.takeReady({ D: 1, G: 1 })).toBe(ready1);
    expect(q.includes(ready1)).toBe(false);
    expect(q.takeReady({ D: 1, G: 1 })).toBe(ready2);
    expect(q.takeReady({ D: 1, G: 1 })).toBeUndefined();
    expect(q.includes(early)).toBe(true);
  });

  it('offers a D task at the held D whose share is not computed yet, without taking it out', () => {
    const q = new TaskQueue();
    const gTask = task('G', 0, 1, 2);
    const otherD = task('D', 1, 2, 2);
    const ahead = task('D', 2, 1, 2);
    for (const t of [gTask, otherD, ahead]) q.push(t);
    expect(q.ahead({ D: 1, G: 1 })).toBe(ahead);
    expect(q.includes(ahead)).toBe(true);
    ahead.share = { lossSum: 0 } as QueuedTask['share'];
    expect(q.ahead({ D: 1, G: 1 })).toBeUndefined();
  });

  it('drops what the predicate selects and keeps the rest in order', () => {
    const q = new TaskQueue();
    const [a, b, c] = [task('D', 0, 0, 0), task('D', 1, 1, 1), task('D', 2, 0, 0)];
    for (const t of [a!, b!, c!]) q.push(t);
    q.drop(({ task }) => task.dVersion < 1);
    expect([a, b, c].map((t) => q.includes(t!))).toEqual([false, true, false]);
    expect(q.takeReady({ D: 1, G: 1 })).toBe(b);
  });
});
