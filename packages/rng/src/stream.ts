import { hashString, mix32 } from './hash.js';

/** One part of a stream key: a label such as "noise" or an integer such as a step number. */
export type KeyPart = string | number;

const TWO_POW_32 = 0x1_0000_0000;
const TWO_POW_24 = 0x100_0000;

function splitInteger(value: number): [number, number] {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`random stream key and counter parts must be non-negative safe integers, got ${value}`);
  }
  return [value >>> 0, Math.floor(value / TWO_POW_32) >>> 0];
}

/**
 * A counter-based random stream: value n depends only on (key, n), never on how many values were
 * drawn before. That is what lets any worker draw the noise for any sample position and get the
 * same bits as the in-process trainer.
 */
export class RandomStream {
  private readonly k0: number;
  private readonly k1: number;

  constructor(parts: readonly KeyPart[]) {
    let k0 = 0x243f6a88;
    let k1 = 0x85a308d3;
    for (const part of parts) {
      const [lo, hi] = typeof part === 'string' ? [hashString(part), 0x5bd1e995] : splitInteger(part);
      k0 = mix32((k0 ^ lo) + Math.imul(k1, 0x9e3779b9));
      k1 = mix32((k1 ^ hi) + Math.imul(k0, 0x7feb352d));
    }
    this.k0 = k0;
    this.k1 = k1;
  }

  /** The uint32 at position `counter` of this stream. */
  uint32(counter: number): number {
    const [lo, hi] = splitInteger(counter);
    const a = mix32(lo ^ this.k0);
    const b = mix32((a + Math.imul(hi ^ this.k1, 0x9e3779b9)) >>> 0);
    return mix32((b ^ this.k1) + Math.imul(a, 0x27d4eb2f));
  }

  /** A float in [0, 1) with 24 random bits, so it is exactly representable in float32. */
  uniform(counter: number): number {
    return (this.uint32(counter) >>> 8) / TWO_POW_24;
  }

  /** A standard normal value (Box-Muller on the uniforms at 2*counter and 2*counter+1). */
  normal(counter: number): number {
    const u1 = ((this.uint32(2 * counter) >>> 8) + 1) / TWO_POW_24; // (0, 1]: log stays finite
    const u2 = (this.uint32(2 * counter + 1) >>> 8) / TWO_POW_24;
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** An integer in [0, bound) (bound <= 2^32). */
  below(counter: number, bound: number): number {
    return Math.floor(this.uniform2x(counter) * bound);
  }

  /** A float in [0, 1) with 48 random bits, for unbiased index draws from large ranges. */
  private uniform2x(counter: number): number {
    const hi = this.uint32(2 * counter) >>> 8;
    const lo = this.uint32(2 * counter + 1) >>> 8;
    return (hi * TWO_POW_24 + lo) / (TWO_POW_24 * TWO_POW_24);
  }

  /** Fills `out` with uniform values in [min, max) taken from counters first, first+1, ... */
  fillUniform(out: Float32Array, first: number, min = 0, max = 1): Float32Array {
    const span = max - min;
    for (let i = 0; i < out.length; i++) out[i] = min + span * this.uniform(first + i);
    return out;
  }

  /** Fills `out` with normal(mean, std) values taken from counters first, first+1, ... */
  fillNormal(out: Float32Array, first: number, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal(first + i);
    return out;
  }
}

/** Shorthand for `new RandomStream(parts)`. */
export function randomStream(...parts: KeyPart[]): RandomStream {
  return new RandomStream(parts);
}
