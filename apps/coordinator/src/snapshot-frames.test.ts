import { decodeCoordinatorMessage } from '@distgan/protocol';
import { describe, expect, it } from 'vitest';
import { SnapshotFrames } from './snapshot-frames.js';

const weights = (value: number) => new Float32Array(1000).fill(value);
const weightsOf = (frame: Uint8Array) => {
  const m = decodeCoordinatorMessage(new Uint8Array(frame));
  if (m.type !== 'snapshot') throw new Error('not a snapshot');
  return { version: m.version, first: m.weights[0] };
};

describe('snapshot frames', () => {
  it('encodes a version once for every worker', () => {
    const frames = new SnapshotFrames();
    const a = frames.current('D', 1, weights(1));
    expect(frames.current('D', 1, weights(99))).toBe(a); // same version: not re-encoded
    expect(weightsOf(a.frame)).toEqual({ version: 1, first: 1 });
  });

  it('reuses the memory of a finished frame, never of one still being sent', () => {
    const frames = new SnapshotFrames();
    const v1 = frames.current('D', 1, weights(1));
    const v1Sent = frames.sending(v1);
    const v2 = frames.current('D', 2, weights(2));
    // v1 is still on its way to a worker: v2 must not have overwritten it.
    expect(v2.frame.buffer).not.toBe(v1.frame.buffer);
    expect(weightsOf(v1.frame)).toEqual({ version: 1, first: 1 });
    v1Sent();
    const v2Sent = frames.sending(v2);
    const v3 = frames.current('D', 3, weights(3));
    expect(v3.frame.buffer).toBe(v1.frame.buffer); // v1's send completed; v2's has not
    expect(weightsOf(v2.frame)).toEqual({ version: 2, first: 2 });
    expect(weightsOf(v3.frame)).toEqual({ version: 3, first: 3 });
    v2Sent();
    v2Sent(); // a second call (an error after completion) changes nothing
    const v4 = frames.current('D', 4, weights(4));
    expect([v1.frame.buffer, v2.frame.buffer]).toContain(v4.frame.buffer); // no new memory once sends keep up
    expect(weightsOf(v4.frame)).toEqual({ version: 4, first: 4 });
  });

  it('keeps the networks apart', () => {
    const frames = new SnapshotFrames();
    const d1 = frames.current('D', 1, weights(1));
    frames.current('D', 2, weights(2)); // d1's memory is now spare for D
    const g1 = frames.current('G', 1, new Float32Array(50).fill(5));
    expect(g1.frame.buffer).not.toBe(d1.frame.buffer);
    expect(frames.current('D', 3, weights(3)).frame.buffer).toBe(d1.frame.buffer);
  });
});
