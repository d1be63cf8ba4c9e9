/**
 * This process's CPU time (user + system, all threads), read in laps: each `lap()` returns the
 * milliseconds used since the previous one (the first: since the clock was made). The coordinator
 * reports its own per step and workers theirs per result (protocol 3's `cpuMs`).
 */
export class CpuClock {
  private mark = process.cpuUsage();

  lap(): number {
    const now = process.cpuUsage();
    const used = (now.user - this.mark.user + now.system - this.mark.system) / 1000;
    this.mark = now;
    return used;
  }
}
