import type { RandomStream } from '@distgan/rng';
import type { NoiseConfig } from './types.js';

/**
 * Fills `rows` noise vectors into `out`, row r taken from counters (firstRow + r) * size ...:
 * row i of a stream is the same whichever shard or worker draws it.
 */
export function fillNoise(
  config: NoiseConfig,
  stream: RandomStream,
  firstRow: number,
  rows: number,
  out: Float32Array = new Float32Array(rows * config.size),
): Float32Array {
  const view = out.subarray(0, rows * config.size);
  const first = firstRow * config.size;
  switch (config.distribution) {
    case 'uniform':
      return stream.fillUniform(view, first, config.min, config.max);
    case 'normal':
      return stream.fillNormal(view, first, config.mean, config.std);
    default: {
      const unknown: never = config;
      throw new Error(`unknown noise distribution ${JSON.stringify(unknown)}`);
    }
  }
}
