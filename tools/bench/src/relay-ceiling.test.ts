import { describe, expect, it } from 'vitest';
import { parseRelayRun } from './relay-ceiling.js';

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
