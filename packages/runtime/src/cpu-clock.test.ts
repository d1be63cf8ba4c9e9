import { describe, expect, it } from 'vitest';
import { CpuClock } from './index.js';

describe('CpuClock', () => {
  it('returns the CPU milliseconds used since the previous lap', () => {
    const clock = new CpuClock();
    const start = process.cpuUsage();
    // Spin until the process has used 20 ms of CPU (counted by the OS, not by a wall clock).
    for (let used = 0; used < 20_000; ) {
      const d = process.cpuUsage(start);
      used = d.user + d.system;
    }
    const first = clock.lap();
    expect(first).toBeGreaterThanOrEqual(20);
    expect(first).toBeLessThan(1_000); // milliseconds, not microseconds
    const second = clock.lap();
    expect(second).toBeGreaterThanOrEqual(0);
    expect(second).toBeLessThan(first); // the lap restarted
  });
});
