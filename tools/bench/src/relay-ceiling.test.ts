import { describe, expect, it } from 'vitest';
import { parseRelayRun, relayOnly } from './relay-ceiling.js';

describe('parseRelayRun', () => {
  it("reads a process's step times and quotes anything else in its error", () => {
    expect(parseRelayRun('{"stepMs":[51.5,48.25]}')).toEqual([51.5, 48.25]);
    for (const bad of [
      'distgan: workers connect to ws://127.0.0.1:1/',
      '{"stepMs":[]}',
      '{"stepMs":[3,0]}',
      '{"stepMs":[3,"4"]}',
      '{"stepMs":5}',
      '{}',
      'null',
      '',
    ]) {
      expect(() => parseRelayRun(bad), bad).toThrow(`answered ${JSON.stringify(bad)} instead of`);
    }
  });
});

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
