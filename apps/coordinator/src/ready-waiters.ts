/** Promises that resolve once enough workers are ready (`--min-workers`, tests). */
export class ReadyWaiters {
  private waiters: { readonly count: number; readonly resolve: () => void }[] = [];

  /** Resolves once `ready()` reports at least `count` (now, if it does). */
  wait(count: number, ready: number): Promise<void> {
    if (ready >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** `ready` workers are ready now: resolves the waits that asked for at most that many. */
  notify(ready: number): void {
    const due = this.waiters.filter((w) => ready >= w.count);
    this.waiters = this.waiters.filter((w) => ready < w.count);
    for (const w of due) w.resolve();
  }
}
