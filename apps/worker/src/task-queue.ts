import type { TaskMessage } from '@distgan/protocol';
import type { RealShare } from '@distgan/training';
import type WebSocket from 'ws';

/** A queued task, the connection it came on (its result goes back only there) and, for a D task that arrived ahead of G's snapshot, its real images' share once computed. */
export interface QueuedTask {
  readonly task: TaskMessage;
  readonly ws: WebSocket;
  share?: RealShare;
}

/** Snapshot versions a worker holds. */
export interface HeldVersions {
  readonly D: number;
  readonly G: number;
}

/**
 * The worker's tasks in arrival order, and which to compute next: one whose snapshots are held,
 * else a D task whose real images' share can be computed ahead (it needs D's snapshot only).
 */
export class TaskQueue {
  private entries: QueuedTask[] = [];

  push(entry: QueuedTask): void {
    this.entries.push(entry);
  }

  includes(entry: QueuedTask): boolean {
    return this.entries.includes(entry);
  }

  /** Removes the tasks `which` selects, freeing their real-image shares. */
  drop(which: (entry: QueuedTask) => boolean): void {
    const kept: QueuedTask[] = [];
    for (const entry of this.entries) {
      if (which(entry)) entry.share?.gradient.dispose();
      else kept.push(entry);
    }
    this.entries = kept;
  }

  /** Takes out the first task computable at `held`, if any. */
  takeReady(held: HeldVersions): QueuedTask | undefined {
    const ready = this.entries.findIndex(({ task }) => task.dVersion === held.D && task.gVersion === held.G);
    return ready < 0 ? undefined : this.entries.splice(ready, 1)[0];
  }

  /** The first D task at the held D whose real images' share is not yet computed (it stays queued). */
  ahead(held: HeldVersions): QueuedTask | undefined {
    return this.entries.find(({ task, share }) => task.phase === 'D' && task.dVersion === held.D && !share);
  }
}
