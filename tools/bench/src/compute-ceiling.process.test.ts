import { describe, expect, it } from 'vitest';
import { computeOnly } from './compute-ceiling.js';

describe('computeOnly', () => {
  it('runs processes through the same window and reports the steps each finished', async () => {
    const runs = await computeOnly(16, 2, 0.4, 'auto');
    expect(runs).toHaveLength(2);
    for (const run of runs) {
      expect(run.steps).toBeGreaterThan(0);
      expect(run.ms).toBeGreaterThanOrEqual(400);
    }
  }, 60_000);

  it('rejects with the process error output when a process fails', async () => {
    // 3 processes cannot split a batch of 2 rows: each child's run config refuses it.
    await expect(computeOnly(2, 3, 0.4, 'auto')).rejects.toThrow(/ended \(1\) before answering[\s\S]*shards/);
  }, 60_000);
});
