import { randomStream } from '@distgan/rng';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { configHash, DEFAULT_MODEL, fillNoise, SEED_MODEL } from './index.js';

beforeAll(async () => {
  await selectBackend(); // DISTGAN_BACKEND, else auto: the backend users get
});

describe('fillNoise and configHash', () => {
  it('draws row i the same whether alone or inside a larger block', () => {
    const stream = randomStream(1, 'noise');
    const block = fillNoise(SEED_MODEL.noise, stream, 0, 8);
    const row5 = fillNoise(SEED_MODEL.noise, stream, 5, 1);
    expect(Array.from(row5)).toEqual(Array.from(block.subarray(5 * 200, 6 * 200)));
    expect(Math.max(...block)).toBeLessThan(10);
    expect(Math.min(...block)).toBeGreaterThanOrEqual(0);
  });

  it('hashes configs independently of key order', () => {
    expect(configHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(configHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(configHash(SEED_MODEL)).not.toBe(configHash(DEFAULT_MODEL));
  });
});
