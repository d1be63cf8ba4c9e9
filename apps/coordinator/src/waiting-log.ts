/**
 * "waiting for workers" while a phase has tasks and no worker is connected: said at once, then
 * every `everyMs` with how long the wait has lasted. Pure over the clock it is given.
 */
export class WaitingLog {
  private since: number | null = null;
  private lastSaid = Number.NEGATIVE_INFINITY;

  constructor(private readonly everyMs: number) {}

  /** The line to log at `now` for `phase` (null: no phase in progress) with `ready` workers, or null. */
  note(phase: { readonly step: number; readonly phase: string } | null, ready: number, now: number): string | null {
    if (!phase || ready > 0) {
      this.since = null;
      return null;
    }
    this.since ??= now;
    if (now - this.lastSaid < this.everyMs) return null;
    this.lastSaid = now;
    const secs = Math.round((now - this.since) / 1000);
    return `waiting for workers: none connected (step ${phase.step} ${phase.phase} phase${secs > 0 ? `, waited ${secs}s` : ''})`;
  }
}
