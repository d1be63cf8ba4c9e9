import { encodeMessage, FrameBuffer, type NetworkName } from '@distgan/protocol';
import type { Trace } from '@distgan/runtime';

/** A snapshot frame and the reused memory it lives in. */
export interface EncodedSnapshot {
  readonly net: NetworkName;
  readonly version: number;
  readonly frame: Uint8Array;
  readonly memory: FrameBuffer;
  /** Sends of this frame not yet handed to the kernel: its memory is busy until 0. */
  sendsPending: number;
  /** A newer version replaced it: its memory becomes spare once no send is pending. */
  retired: boolean;
}

/**
 * Each network's snapshot frame at its current version, encoded once for every worker. A new
 * version is encoded into the memory of an older frame whose sends have all completed, so the
 * coordinator does not allocate a megabyte-sized frame every phase; a frame that a slow socket
 * is still sending keeps its memory and the new version gets fresh memory.
 */
export class SnapshotFrames {
  private readonly latest: Partial<Record<NetworkName, EncodedSnapshot>> = {};
  /** Memory of finished frames, per network (their sizes differ). */
  private readonly spare: Record<NetworkName, FrameBuffer[]> = { D: [], G: [] };

  constructor(private readonly trace: Trace = () => undefined) {}

  /** The frame of `net` at `version`, encoding `weights` unless that version is the latest. */
  current(net: NetworkName, version: number, weights: Float32Array): EncodedSnapshot {
    const latest = this.latest[net];
    if (latest && latest.version === version) return latest;
    if (latest) {
      latest.retired = true;
      this.recycle(latest);
    }
    const memory = this.spare[net].pop() ?? new FrameBuffer();
    const frame = encodeMessage({ type: 'snapshot', net, version, weights }, memory);
    this.trace('snapshotEncoded', { net, version, bytes: frame.byteLength });
    const snapshot: EncodedSnapshot = { net, version, frame, memory, sendsPending: 0, retired: false };
    this.latest[net] = snapshot;
    return snapshot;
  }

  /** Counts a send of `snapshot` as started; call the returned function when it completes (or fails). */
  sending(snapshot: EncodedSnapshot): () => void {
    snapshot.sendsPending++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      snapshot.sendsPending--;
      this.recycle(snapshot);
    };
  }

  private recycle(snapshot: EncodedSnapshot): void {
    if (!snapshot.retired || snapshot.sendsPending > 0) return;
    const spares = this.spare[snapshot.net];
    // Two are plenty when sends keep up; more would only hold memory after a slow spell.
    if (spares.length < 2 && !spares.includes(snapshot.memory)) spares.push(snapshot.memory);
  }
}
