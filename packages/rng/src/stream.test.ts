import { describe, expect, it } from 'vitest';
import { RandomStream, randomStream } from './index.js';

describe('RandomStream', () => {
  it('is a pure function of key and counter', () => {
    const a = randomStream(7, 'noise', 3, 1);
    const b = randomStream(7, 'noise', 3, 1);
    const forward = Array.from({ length: 100 }, (_, i) => a.uint32(i));
    const backward = Array.from({ length: 100 }, (_, i) => b.uint32(99 - i)).reverse();
    expect(backward).toEqual(forward);
  });

  it('gives different streams for keys that differ in any part or in order', () => {
    const keys = [
      [7, 'noise', 3, 1],
      [8, 'noise', 3, 1],
      [7, 'noise', 3, 2],
      [7, 'noise', 1, 3],
      [7, 'batch', 3, 1],
    ];
    const firsts = keys.map((k) => new RandomStream(k).uint32(0));
    expect(new Set(firsts).size).toBe(keys.length);
  });

  it('has uniform mean ~1/2 and variance ~1/12 and stays in [0,1)', () => {
    const s = randomStream(1, 'u');
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = s.uniform(i);
      sum += u;
      sq += u * u;
      min = Math.min(min, u);
      max = Math.max(max, u);
    }
    const mean = sum / n;
    expect(mean).toBeCloseTo(0.5, 2);
    expect(sq / n - mean * mean).toBeCloseTo(1 / 12, 3);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
  });

  it('has normal mean ~0 and std ~1', () => {
    const out = randomStream(2, 'n').fillNormal(new Float32Array(100_000), 0);
    const mean = out.reduce((a, b) => a + b, 0) / out.length;
    const variance = out.reduce((a, b) => a + (b - mean) ** 2, 0) / out.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.sqrt(variance)).toBeCloseTo(1, 1);
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it('draws every index below a bound about equally often', () => {
    const s = randomStream(3, 'idx');
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 50_000; i++) counts[s.below(i, 10)]! += 1;
    for (const c of counts) expect(c).toBeGreaterThan(4_500);
  });

  it('rejects negative or fractional key parts instead of silently aliasing them', () => {
    expect(() => randomStream(-1)).toThrow(/non-negative/);
    expect(() => randomStream(1.5)).toThrow(/non-negative/);
    expect(() => randomStream(1).uint32(-2)).toThrow(/non-negative/);
  });
});
