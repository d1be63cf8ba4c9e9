import type { Phase } from '@distgan/protocol';
import { randomStream, type RandomStream } from '@distgan/rng';

export type { Phase };
export const PHASES: readonly Phase[] = ['D', 'G'];
const PHASE_INDEX: Readonly<Record<Phase, number>> = { D: 0, G: 1 };

export interface ShardRange {
  readonly start: number;
  readonly count: number;
}

/** Shard k of a batch cut into `shards` near-equal contiguous ranges (the first ones one larger). */
export function shardRange(batchSize: number, shards: number, shard: number): ShardRange {
  if (!(Number.isInteger(shard) && shard >= 0 && shard < shards)) throw new RangeError(`shard ${shard} is outside [0, ${shards})`);
  const base = Math.floor(batchSize / shards);
  const extra = batchSize % shards;
  return { start: shard * base + Math.min(shard, extra), count: base + (shard < extra ? 1 : 0) };
}

/** Real-image indices of step t's batch, drawn with replacement from a stream keyed (seed, t). */
export function batchIndices(seed: number, step: number, batchSize: number, datasetSize: number): Uint32Array {
  const stream = randomStream(seed, 'batch', step);
  const out = new Uint32Array(batchSize);
  for (let i = 0; i < batchSize; i++) out[i] = stream.below(i, datasetSize);
  return out;
}

/** The noise stream of (seed, step, phase): row i belongs to global batch position i. */
export function noiseStream(seed: number, step: number, phase: Phase): RandomStream {
  return randomStream(seed, 'noise', step, PHASE_INDEX[phase]);
}

/**
 * Classes of a conditional model's fake rows in (seed, step, phase): row i (global batch
 * position) draws class i of the stream, uniformly, whichever shard or worker draws it.
 */
export function fakeClasses(seed: number, step: number, phase: Phase, classes: number, firstRow: number, rows: number, out: Int32Array): Int32Array {
  const stream = randomStream(seed, 'class', step, PHASE_INDEX[phase]);
  const view = out.subarray(0, rows);
  for (let r = 0; r < rows; r++) view[r] = stream.below(firstRow + r, classes);
  return view;
}

/** Which of D's inputs a dropout mask is for: the real images or the fakes. */
export type DropoutPass = 'real' | 'fake';

/** The stream of D's dropout masks for (seed, step, phase, pass, hidden layer); row i reads its own counters. */
export function dropoutStream(seed: number, step: number, phase: Phase, pass: DropoutPass, layer: number): RandomStream {
  return randomStream(seed, 'dropout', step, PHASE_INDEX[phase], pass, layer);
}
