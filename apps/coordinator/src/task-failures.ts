/**
 * The rule for task failures (a worker's `WORKER_FAILED`): pure decisions, no sockets, no clock.
 *
 * - A failed task goes back to the queue for a worker that has not failed it this phase.
 * - A worker identity (name, host and pid, as its hello gave them) whose tasks fail
 *   `failuresToSetAside` times in a row, with no result of its accepted in between, is set aside:
 *   its connections, reconnections included, get tasks only while no other worker can take them.
 * - The run stops only when a task cannot be done by anyone: it failed `failuresToStop` times and
 *   every worker connected when it last failed has failed it. A worker that fails every task next
 *   to healthy ones therefore never ends the run.
 */
export interface TaskFailureOptions {
  readonly failuresToSetAside: number;
  readonly failuresToStop: number;
}

export interface FailureVerdict {
  /** This failure set the worker's identity aside. */
  readonly setAside: boolean;
  /** The task cannot be done by any connected worker: the run stops. */
  readonly stop: boolean;
  /** How many times the task has failed this phase. */
  readonly attempts: number;
}

/** The task a `WORKER_FAILED` message names: its text starts `task STEP/PHASE/SHARD: `, as distgan's worker writes it. */
export function failedTaskKey(message: string): string | null {
  return /^task (\d+\/[DG]\/\d+): /.exec(message)?.[1] ?? null;
}

export class TaskFailures {
  /** Per task key this phase: the connections that failed it, and how many failures. */
  private readonly byTask = new Map<string, { readonly by: Set<string>; attempts: number }>();
  /** Failures in a row per worker identity (no accepted result between). */
  private readonly streaks = new Map<string, number>();
  private readonly setAsideIdentities = new Set<string>();

  constructor(private readonly options: TaskFailureOptions) {}

  /** A new phase: tasks failed before are new tasks now (their inputs changed). */
  startPhase(): void {
    this.byTask.clear();
  }

  /**
   * `worker` (a connection of `identity`) failed task `key` (null when its message named none),
   * while `connected` (connection ids, the reporter included if still there) were ready.
   */
  failed(worker: string, identity: string, key: string | null, connected: readonly string[]): FailureVerdict {
    const streak = (this.streaks.get(identity) ?? 0) + 1;
    this.streaks.set(identity, streak);
    const setAside = streak >= this.options.failuresToSetAside && !this.setAsideIdentities.has(identity);
    if (setAside) this.setAsideIdentities.add(identity);
    if (key === null) return { setAside, stop: false, attempts: 0 };
    const task = this.byTask.get(key) ?? { by: new Set<string>(), attempts: 0 };
    this.byTask.set(key, task);
    task.by.add(worker);
    task.attempts++;
    const nobodyElse = connected.every((id) => task.by.has(id));
    return { setAside, stop: task.attempts >= this.options.failuresToStop && nobodyElse, attempts: task.attempts };
  }

  /** A result of `identity`'s was accepted: it computes, so its failures in a row start again. */
  succeeded(identity: string): void {
    this.streaks.delete(identity);
  }

  /** The connections that failed task `key` this phase (the scheduler gives it to others first). */
  failedBy(key: string): ReadonlySet<string> {
    return this.byTask.get(key)?.by ?? new Set();
  }

  isSetAside(identity: string): boolean {
    return this.setAsideIdentities.has(identity);
  }
}
