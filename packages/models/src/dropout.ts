import type { RandomStream } from '@distgan/rng';
import type { NetworkConfig } from './types.js';

/**
 * The drop probability masks really use: each mask entry compares one random byte with
 * round(256 * rate), so four entries share one 32-bit draw (a quarter of the hashing).
 */
export function quantizedDropoutRate(rate: number): number {
  return Math.round(rate * 256) / 256;
}

/** Widths of the hidden layers a network's dropout masks (one per hidden layer, in order; empty without dropout). */
export function dropoutWidths(net: NetworkConfig): number[] {
  if (net.dropout === undefined) return [];
  return net.layers.slice(0, -1).map((layer) => {
    if (layer.kind !== undefined && layer.kind !== 'dense') throw new Error('dropout needs dense layers only');
    return layer.units;
  });
}

/**
 * Fills `rows` rows of a `units`-wide dropout mask into `out`: 0 with probability
 * `quantizedDropoutRate(rate)`, else 1 / (1 - that). Row r (counting from `firstRow`) reads
 * counters (firstRow + r) * ceil(units / 4) ..., so a row's mask is the same whichever shard or
 * worker draws it.
 */
export function fillDropoutMask(
  rate: number,
  stream: RandomStream,
  firstRow: number,
  rows: number,
  units: number,
  out: Float32Array = new Float32Array(rows * units),
): Float32Array {
  const dropped = quantizedDropoutRate(rate);
  if (!(dropped > 0 && dropped < 1)) throw new RangeError(`dropout rate ${rate} rounds to ${dropped} in 1/256 steps`);
  const threshold = dropped * 256;
  const keep = 1 / (1 - dropped);
  const view = out.subarray(0, rows * units);
  const wordsPerRow = Math.ceil(units / 4);
  for (let r = 0; r < rows; r++) {
    const base = (firstRow + r) * wordsPerRow;
    const row = r * units;
    for (let w = 0; w < wordsPerRow; w++) {
      let bits = stream.uint32(base + w);
      for (let k = 0, j = w * 4; k < 4 && j < units; k++, j++, bits >>>= 8) view[row + j] = (bits & 0xff) < threshold ? 0 : keep;
    }
  }
  return view;
}
