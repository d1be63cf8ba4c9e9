import { describe, expect, it } from 'vitest';
import { parseComputeRun, throughputRatio } from './compute-ceiling.js';

describe('throughputRatio', () => {
  it('is whole steps per ms of the halves together, times the whole process step time', () => {
    // 10 ms a whole step; two halves at 150 half-steps a second each: 0.15 whole steps per ms.
    expect(
      throughputRatio({ steps: 100, ms: 1000 }, [
        { steps: 150, ms: 1000 },
        { steps: 150, ms: 1000 },
      ]),
    ).toBeCloseTo(1.5, 12);
    // Unequal halves and windows: (30/400 + 10/200) / 2 = 0.0625 whole steps per ms, times 20 ms.
    expect(
      throughputRatio({ steps: 10, ms: 200 }, [
        { steps: 30, ms: 400 },
        { steps: 10, ms: 200 },
      ]),
    ).toBeCloseTo(1.25, 12);
  });

  it('refuses a run that finished no step', () => {
    expect(() => throughputRatio({ steps: 0, ms: 1000 }, [{ steps: 5, ms: 1000 }])).toThrow(/at least one step/);
    expect(() =>
      throughputRatio({ steps: 5, ms: 1000 }, [
        { steps: 5, ms: 1000 },
        { steps: 0, ms: 1000 },
      ]),
    ).toThrow(/at least one step/);
    expect(() => throughputRatio({ steps: 5, ms: 1000 }, [])).toThrow(/at least one step/);
  });
});

describe('parseComputeRun', () => {
  it("reads a process's answer and quotes anything else in its error", () => {
    expect(parseComputeRun('{"steps":12,"ms":3001.5}')).toEqual({ steps: 12, ms: 3001.5 });
    for (const bad of [
      'Platform node has already been set',
      '{"steps":1.5,"ms":10}',
      '{"steps":3}',
      '{"steps":3,"ms":0}',
      '{"steps":-1,"ms":10}',
      'null',
      '',
    ]) {
      expect(() => parseComputeRun(bad), bad).toThrow(`answered ${JSON.stringify(bad)} instead of`);
    }
  });
});
