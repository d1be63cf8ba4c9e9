import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, initialSnapshot, parameterCount, parameterSpec, SEED_MODEL, snapshotSha256, validateModelConfig } from './index.js';

beforeAll(async () => {
  await selectBackend(); // DISTGAN_BACKEND, else auto: the backend users get
});

describe('seed preset', () => {
  it('has the tutorial parameter counts: G 591,784 and D 471,601', () => {
    expect(parameterCount(parameterSpec(SEED_MODEL.generator))).toBe(591_784);
    expect(parameterCount(parameterSpec(SEED_MODEL.discriminator))).toBe(471_601);
    expect(parameterSpec(SEED_MODEL.discriminator).map((p) => `${p.name}:${p.shape.join('x')}`)).toEqual(['w1:784x600', 'b1:600', 'w2:600x1', 'b2:1']);
    expect(() => validateModelConfig(SEED_MODEL)).not.toThrow();
    expect(() => validateModelConfig(DEFAULT_MODEL)).not.toThrow();
  });

  it('initialises kernels normal(0, 1/fan_in), biases 0, the same for the same key only', () => {
    const spec = parameterSpec(SEED_MODEL.discriminator);
    const a = initialSnapshot(spec, 'normalInvFanIn', [5, 'init', 'D']);
    const w1 = spec[0]!;
    const kernel = a.subarray(w1.offset, w1.size);
    const mean = kernel.reduce((s, x) => s + x, 0) / kernel.length;
    const std = Math.sqrt(kernel.reduce((s, x) => s + (x - mean) ** 2, 0) / kernel.length);
    expect(std).toBeCloseTo(1 / 784, 4);
    const b1 = spec[1]!;
    expect(a.subarray(b1.offset, b1.offset + b1.size).every((x) => x === 0)).toBe(true);
    expect(snapshotSha256(initialSnapshot(spec, 'normalInvFanIn', [5, 'init', 'D']))).toBe(snapshotSha256(a));
    expect(snapshotSha256(initialSnapshot(spec, 'normalInvFanIn', [6, 'init', 'D']))).not.toBe(snapshotSha256(a));
  });

  it('glorotUniform stays inside its limit', () => {
    const spec = parameterSpec(DEFAULT_MODEL.generator);
    const s = initialSnapshot(spec, 'glorotUniform', [1]);
    const w1 = spec[0]!;
    const limit = Math.sqrt(6 / (w1.fanIn + w1.fanOut));
    const k = s.subarray(0, w1.size);
    expect(Math.max(...k)).toBeLessThanOrEqual(limit);
    expect(Math.min(...k)).toBeGreaterThanOrEqual(-limit);
    expect(Math.max(...k)).toBeGreaterThan(0.9 * limit);
  });
});
