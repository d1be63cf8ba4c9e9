import type { ShardTask } from '@distgan/training';

/**
 * Which shard task goes to which worker, and when a task goes back to the queue: pure decisions
 * over events (a worker joined or left, a phase started, a result came, the clock moved), with no
 * sockets and no timers, so that every rule is tested with a fake clock.
 *
 * The rules:
 * - Tasks go out one at a time, round-robin, to ready workers with room (fewest held first, ties
 *   to the one that joined first), at most `maxInFlight` each.
 * - A task not answered within `taskTimeoutMs` is taken back. It goes to a different worker when
 *   one is connected and not set aside; only when none is does it go back to one that overran it.
 *   A task a worker reports failed (`failed`) is taken back at once and goes elsewhere the same way.
 * - A worker that overruns `strikesToSetAside` deadlines in a row (an accepted result clears its
 *   count) is set aside: it gets tasks only while no other worker can take them. The pool sets
 *   aside workers whose tasks keep failing the same way (`setAside`, see TaskFailures).
 * - A result counts when its task is in flight at that worker at the moment it arrives. A result
 *   for a task taken back from it is late and dropped; if the same worker was given the task
 *   again (no other worker could take it), its next result for that task counts, whichever time
 *   it was given: a task's result depends on the task alone, so the bits are the same.
 */
export interface SchedulerOptions {
  /** Tasks a worker may hold at once. */
  readonly maxInFlight: number;
  readonly taskTimeoutMs: number;
  /** Deadlines overrun in a row that set a worker aside. */
  readonly strikesToSetAside: number;
}

/** A decision: hand `task` to `worker`. */
export interface Assignment {
  readonly worker: string;
  readonly task: ShardTask;
}

/** Deadlines `worker` overran at one tick: its tasks went back to the queue. */
export interface Overrun {
  readonly worker: string;
  readonly tasks: readonly ShardTask[];
  /** True when this overrun set the worker aside. */
  readonly setAside: boolean;
}

/** What a result is, for the task it answers. */
export type ResultVerdict = 'inFlight' | 'late' | 'neverGiven';

interface Flight {
  readonly task: ShardTask;
  readonly deadline: number;
}

interface WorkerSlot {
  readonly id: string;
  readonly inFlight: Map<string, Flight>;
  /** Tasks handed to it in the current and previous step: tells a late result from a bogus one. */
  readonly given: Map<string, number>;
  strikes: number;
  setAside: boolean;
}

export function taskKey(task: Pick<ShardTask, 'step' | 'phase' | 'shard'>): string {
  return `${task.step}/${task.phase}/${task.shard}`;
}

export class Scheduler {
  /** In join order (a Map keeps insertion order). */
  private readonly workers = new Map<string, WorkerSlot>();
  private phase: { readonly step: number; readonly phase: ShardTask['phase'] } | null = null;
  private queue: ShardTask[] = [];
  /** The next phase's tasks that may go out ahead once this phase's are all out. */
  private upcoming: ShardTask[] = [];
  /** Workers that overran or failed each queued task this phase, by task key: others get it first. Cleared when a phase starts. */
  private readonly avoidedBy = new Map<string, Set<string>>();

  constructor(private readonly options: SchedulerOptions) {}

  join(worker: string): void {
    if (this.workers.has(worker)) throw new Error(`worker ${worker} joined twice`);
    this.workers.set(worker, { id: worker, inFlight: new Map(), given: new Map(), strikes: 0, setAside: false });
  }

  /** Forgets `worker`; its tasks of the current phase go back to the queue (returned). */
  leave(worker: string): ShardTask[] {
    const slot = this.workers.get(worker);
    if (!slot) return [];
    this.workers.delete(worker);
    const lost = [...slot.inFlight.values()].map((f) => f.task);
    this.requeue(lost);
    return lost;
  }

  /**
   * Starts a phase: `tasks` are its tasks, `upcoming` the next phase's that may go out ahead.
   * Returns the tasks workers already hold from being handed out ahead (their deadlines now run
   * from `now`); the rest are queued. A held task whose snapshot versions differ from the plan's
   * (it cannot, short of a bug) is taken back and queued.
   */
  startPhase(tasks: readonly ShardTask[], upcoming: readonly ShardTask[], now: number): Assignment[] {
    const first = tasks[0];
    this.phase = first ? { step: first.step, phase: first.phase } : null;
    const byKey = new Map(tasks.map((t) => [taskKey(t), t]));
    const held: Assignment[] = [];
    for (const slot of this.workers.values()) {
      for (const [key, flight] of slot.inFlight) {
        const task = byKey.get(key);
        if (!task) continue;
        if (task.dVersion !== flight.task.dVersion || task.gVersion !== flight.task.gVersion) {
          slot.inFlight.delete(key);
          continue;
        }
        slot.inFlight.set(key, { task, deadline: now + this.options.taskTimeoutMs });
        held.push({ worker: slot.id, task });
      }
      if (first) for (const [key, step] of slot.given) if (step < first.step - 1) slot.given.delete(key);
    }
    const heldKeys = new Set(held.map((a) => taskKey(a.task)));
    this.queue = tasks.filter((t) => !heldKeys.has(taskKey(t)));
    this.upcoming = [...upcoming];
    this.avoidedBy.clear();
    return held;
  }

  /** The phase is complete: nothing more goes out until the next `startPhase`. */
  endPhase(): void {
    this.phase = null;
    this.queue = [];
    this.upcoming = [];
  }

  /** Classifies a result from `worker` and, when it answers a task in flight there, takes the task off its hands. */
  result(worker: string, task: Pick<ShardTask, 'step' | 'phase' | 'shard'>): ResultVerdict {
    const slot = this.workers.get(worker);
    if (!slot) return 'neverGiven';
    const key = taskKey(task);
    if (slot.inFlight.delete(key)) return 'inFlight';
    return slot.given.has(key) ? 'late' : 'neverGiven';
  }

  /** Sets `worker` aside: it gets tasks only while no other worker can take them. */
  setAside(worker: string): void {
    const slot = this.workers.get(worker);
    if (slot) slot.setAside = true;
  }

  /**
   * `worker` failed task `key`: taken off its hands if it holds it (back to the queue, returned
   * true), and given to other workers first.
   */
  failed(worker: string, key: string): boolean {
    this.avoid(key, worker);
    const flight = this.workers.get(worker)?.inFlight.get(key);
    if (!flight) return false;
    this.workers.get(worker)?.inFlight.delete(key);
    this.requeue([flight.task]);
    return true;
  }

  private avoid(key: string, worker: string): void {
    const by = this.avoidedBy.get(key) ?? new Set<string>();
    by.add(worker);
    this.avoidedBy.set(key, by);
  }

  /** `worker`'s result was accepted: it is answering, so its overrun count starts again. */
  credit(worker: string): void {
    const slot = this.workers.get(worker);
    if (slot) slot.strikes = 0;
  }

  /** Takes back every task whose deadline has passed at `now`. */
  expire(now: number): Overrun[] {
    const overruns: Overrun[] = [];
    for (const slot of this.workers.values()) {
      const overdue = [...slot.inFlight.entries()].filter(([, f]) => now > f.deadline);
      if (overdue.length === 0) continue;
      for (const [key] of overdue) {
        slot.inFlight.delete(key);
        this.avoid(key, slot.id);
      }
      slot.strikes++;
      const setAside = !slot.setAside && slot.strikes >= this.options.strikesToSetAside;
      if (setAside) slot.setAside = true;
      const tasks = overdue.map(([, f]) => f.task);
      this.requeue(tasks);
      overruns.push({ worker: slot.id, tasks, setAside });
    }
    return overruns;
  }

  /** Hands out what can go now: the phase's queue first, then, once it is empty, the upcoming tasks. */
  dispatch(now: number): Assignment[] {
    if (!this.phase) return [];
    const out = this.deal(this.queue, now);
    if (this.queue.length === 0) out.push(...this.deal(this.upcoming, now));
    return out;
  }

  isSetAside(worker: string): boolean {
    return this.workers.get(worker)?.setAside ?? false;
  }

  inFlight(worker: string): number {
    return this.workers.get(worker)?.inFlight.size ?? 0;
  }

  /** Tasks queued and not yet handed out (the current phase's). */
  queued(): readonly ShardTask[] {
    return this.queue;
  }

  private requeue(tasks: readonly ShardTask[]): void {
    const phase = this.phase;
    if (!phase) return;
    const current = tasks.filter((t) => t.step === phase.step && t.phase === phase.phase);
    this.queue = [...this.queue, ...current].sort((a, b) => a.shard - b.shard);
  }

  /**
   * Round-robin, one task at a time, over the workers that may take it (fewest held first), so
   * idle workers share a queue evenly. Set-aside workers and, for a task, the workers that
   * overran or failed it are used only when no other worker is connected to take it.
   */
  private deal(tasks: ShardTask[], now: number): Assignment[] {
    const out: Assignment[] = [];
    const trusted = [...this.workers.values()].filter((w) => !w.setAside);
    let progressed = true;
    while (tasks.length > 0 && progressed) {
      progressed = false;
      for (const slot of [...this.workers.values()].sort((a, b) => a.inFlight.size - b.inFlight.size)) {
        if (slot.inFlight.size >= this.options.maxInFlight) continue;
        const index = tasks.findIndex((task) => this.mayTake(slot, task, trusted));
        if (index < 0) continue;
        const task = tasks.splice(index, 1)[0]!;
        const key = taskKey(task);
        slot.inFlight.set(key, { task, deadline: now + this.options.taskTimeoutMs });
        slot.given.set(key, task.step);
        out.push({ worker: slot.id, task });
        progressed = true;
        if (tasks.length === 0) break;
      }
    }
    return out;
  }

  /** Whether `slot` may take `task` now, given the workers not set aside (`trusted`). */
  private mayTake(slot: WorkerSlot, task: ShardTask, trusted: readonly WorkerSlot[]): boolean {
    const avoided = this.avoidedBy.get(taskKey(task));
    const fresh = trusted.filter((w) => !avoided?.has(w.id));
    if (fresh.length > 0) return fresh.includes(slot);
    // Every trusted worker overran or failed it (or none is trusted): any other worker, else anyone.
    const untried = [...this.workers.values()].filter((w) => !avoided?.has(w.id));
    return untried.length > 0 ? untried.includes(slot) : true;
  }
}
