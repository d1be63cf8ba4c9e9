import { describe, expect, it } from 'vitest';
import { phaseBreakdowns, type TraceEvent } from './trace-breakdown.js';

const e = (t: number, event: string, fields: Record<string, number | string> = {}): TraceEvent => ({ t, event, ...fields });

describe('phaseBreakdowns', () => {
  it('splits a trace into phases and attributes each interval', () => {
    const coordinator = [
      e(1000, 'phaseStart', { step: 0, phase: 'D' }),
      e(1002, 'dispatched'),
      e(1010, 'gc', { ms: 1.5, kind: 4 }),
      e(1030, 'accepted'),
      e(1041, 'accepted'),
      e(1045, 'phaseStart', { step: 0, phase: 'G' }),
      e(1046, 'dispatched'),
      e(1070, 'accepted'),
      e(1075, 'phaseStart', { step: 1, phase: 'D' }), // no end: left out
    ];
    const fast = [e(1003, 'computeStart'), e(1020, 'gc', { ms: 0.5, kind: 1 }), e(1025, 'computeEnd'), e(1048, 'computeStart'), e(1066, 'computeEnd')];
    // The slow worker also computes a D task's real-image share ahead, in the G phase.
    const slow = [e(1005, 'computeStart'), e(1037, 'computeEnd'), e(1050, 'shareStart'), e(1061, 'shareEnd')];
    const phases = phaseBreakdowns(coordinator, [fast, slow]);
    expect(phases).toEqual([
      {
        phase: 'D',
        step: 0,
        totalMs: 45,
        dispatchMs: 2,
        toWorkersMs: 1,
        computeMs: 32,
        aheadMs: 0,
        resultBackMs: 4,
        betweenPhasesMs: 4,
        coordinatorGcMs: 1.5,
        workerGcMs: 0.5,
      },
      {
        phase: 'G',
        step: 0,
        totalMs: 30,
        dispatchMs: 1,
        toWorkersMs: 2,
        computeMs: 18,
        aheadMs: 11,
        resultBackMs: 4,
        betweenPhasesMs: 5,
        coordinatorGcMs: 0,
        workerGcMs: 0,
      },
    ]);
  });

  it('skips a phase no worker computed in (e.g. while none was connected)', () => {
    const coordinator = [e(0, 'phaseStart', { step: 0, phase: 'D' }), e(1, 'dispatched'), e(9, 'accepted'), e(10, 'phaseStart', { step: 0, phase: 'G' })];
    expect(phaseBreakdowns(coordinator, [[]])).toEqual([]);
  });
});
