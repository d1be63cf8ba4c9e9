import { describe, expect, it } from 'vitest';
import { relayOnly } from './relay-ceiling.js';

describe('relayOnly', () => {
  it('drives real workers through every step and reports the steps after the warm-up', async () => {
    const stepMs = await relayOnly(8, 2, 3, 1, 'auto');
    expect(stepMs).toHaveLength(3);
    for (const ms of stepMs) expect(ms).toBeGreaterThan(0);
  }, 60_000);

  it('rejects with the process error output when the run fails', async () => {
    await expect(relayOnly(0, 1, 3, 0, 'auto')).rejects.toThrow(/relay-only process failed \(1\)[\s\S]*relay-only: /);
  }, 60_000);
});
