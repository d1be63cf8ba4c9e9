import type { CoordinatorMessage, NetworkName } from '@distgan/protocol';
import type { Trace } from '@distgan/runtime';
import type { PhasePlan, ShardTask } from '@distgan/training';
import type { SharedSnapshots } from './shared-snapshots.js';
import { SnapshotFrames } from './snapshot-frames.js';
import type { WorkerConnection } from './worker-connection.js';

type Send = (connection: WorkerConnection, message: CoordinatorMessage | Uint8Array, onSent?: () => void) => void;

/**
 * Gets each worker the snapshots its tasks need: one frame per version for every worker over the
 * sockets, or one file per version for the workers that read the shared folder.
 */
export class SnapshotSender {
  private readonly frames: SnapshotFrames;

  constructor(
    private readonly shared: SharedSnapshots | null,
    private readonly send: Send,
    private readonly trace: Trace,
  ) {
    this.frames = new SnapshotFrames(trace);
  }

  /**
   * Sends `connection` the snapshots `task` needs that it lacks and that exist: a task handed out
   * ahead names a G version the current phase has yet to produce, which goes out when its phase
   * starts (`Scheduler.startPhase` returns the tasks held).
   */
  sendFor(connection: WorkerConnection, plan: PhasePlan, task: ShardTask): void {
    for (const net of ['D', 'G'] as const) {
      const want = net === 'D' ? task.dVersion : task.gVersion;
      if (connection.versions[net] !== want && want === plan.state.version(net)) {
        this.sendOne(connection, plan, net);
        connection.versions[net] = want;
      }
    }
  }

  /** `net`'s snapshot at its current version: encoded once for every worker, or written once to the shared folder. */
  private sendOne(connection: WorkerConnection, plan: PhasePlan, net: NetworkName): void {
    if (connection.sharedSnapshots && this.shared) {
      const { version, file } = this.shared.current(net, plan.state.version(net), plan.state.weights(net));
      this.send(connection, { type: 'snapshotFile', net, version, file });
      this.trace('snapshotShared', { worker: connection.id, net, version });
      return;
    }
    const snapshot = this.frames.current(net, plan.state.version(net), plan.state.weights(net));
    const sent = this.frames.sending(snapshot);
    try {
      this.send(connection, snapshot.frame, sent);
    } catch (err) {
      sent(); // ws threw before taking the frame: nothing holds its memory
      throw err;
    }
  }
}
