import { describe, expect, it } from 'vitest';
import { ReadyWaiters } from './ready-waiters.js';
import { WaitingLog } from './waiting-log.js';

describe('WaitingLog', () => {
  it('says so at once while a phase has no worker, then every period with the time waited; nothing with a worker or between phases', () => {
    const log = new WaitingLog(10_000);
    const phase = { step: 4, phase: 'G' };
    expect(log.note(null, 0, 0)).toBeNull();
    expect(log.note(phase, 1, 0)).toBeNull();
    expect(log.note(phase, 0, 1_000)).toBe('waiting for workers: none connected (step 4 G phase)');
    expect(log.note(phase, 0, 10_999)).toBeNull();
    expect(log.note(phase, 0, 11_000)).toBe('waiting for workers: none connected (step 4 G phase, waited 10s)');
    // A worker came and went: the wait starts again.
    expect(log.note(phase, 1, 12_000)).toBeNull();
    expect(log.note(phase, 0, 21_000)).toBe('waiting for workers: none connected (step 4 G phase)');
  });
});

describe('ReadyWaiters', () => {
  it('resolves each wait once enough workers are ready, and at once when they already are', async () => {
    const waiters = new ReadyWaiters();
    const order: string[] = [];
    const two = waiters.wait(2, 0).then(() => order.push('two'));
    const one = waiters.wait(1, 0).then(() => order.push('one'));
    await waiters.wait(1, 1);
    waiters.notify(1);
    await one;
    expect(order).toEqual(['one']);
    waiters.notify(2);
    await two;
    expect(order).toEqual(['one', 'two']);
  });
});
