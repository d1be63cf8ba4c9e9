import { randomStream, type KeyPart } from '@distgan/rng';
import type { Initializer } from './types.js';
import { parameterCount, type ParamSpec } from './spec.js';

/**
 * Initial weights as one flat snapshot, each kernel from its own counter-based stream keyed by
 * (key..., parameter name), so the result is fixed by the run seed alone. Biases start at 0.
 */
export function initialSnapshot(spec: readonly ParamSpec[], initializer: Initializer, key: readonly KeyPart[]): Float32Array {
  const out = new Float32Array(parameterCount(spec));
  for (const p of spec) {
    if (p.kind === 'bias') continue;
    const view = out.subarray(p.offset, p.offset + p.size);
    const stream = randomStream(...key, p.name);
    switch (initializer) {
      case 'normalInvFanIn':
        stream.fillNormal(view, 0, 0, 1 / p.fanIn);
        break;
      case 'glorotUniform': {
        const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
        stream.fillUniform(view, 0, -limit, limit);
        break;
      }
      default: {
        const unknown: never = initializer;
        throw new Error(`unknown initializer ${String(unknown)}`);
      }
    }
  }
  return out;
}
