import { describe, expect, it } from 'vitest';
import { ShardOrderedSum } from './accumulate.js';

describe('ShardOrderedSum inputs and state', () => {
  it('refuses a shard outside [0, shards) or a gradient of another length, naming it', () => {
    const sum = new ShardOrderedSum(2, 3);
    for (const shard of [-1, 3, 1.5, Number.NaN]) expect(() => sum.add(shard, new Float32Array(2)), String(shard)).toThrow(/shard .* is outside \[0, 3\)/);
    expect(() => sum.add(0, new Float32Array(3))).toThrow('shard 0 gradient has 3 values, expected 2');
    expect(() => new ShardOrderedSum(2, 1, new Float64Array(3))).toThrow('a sum of 2 values cannot live in an array of 3');
    expect(sum.add(2, Float32Array.of(1, 2))).toBe(true); // the last valid shard
  });

  it('says which shards it has, and takes each once', () => {
    const sum = new ShardOrderedSum(1, 3);
    expect([0, 1, 2].map((s) => sum.has(s))).toEqual([false, false, false]);
    expect(sum.add(2, Float32Array.of(4))).toBe(true);
    expect([0, 1, 2].map((s) => sum.has(s))).toEqual([false, false, true]);
    expect(sum.add(2, Float32Array.of(5))).toBe(false);
    expect(() => sum.total()).toThrow('only 0 of 3 shards are summed');
  });

  it('forgets a shard left waiting when reset: it is not folded into the next sum', () => {
    const sum = new ShardOrderedSum(1, 3);
    sum.add(2, Float32Array.of(100)); // waits for shards 0 and 1
    sum.reset();
    sum.add(0, Float32Array.of(1));
    sum.add(1, Float32Array.of(2));
    expect(sum.complete).toBe(false);
    sum.add(2, Float32Array.of(3));
    expect(Array.from(sum.total())).toEqual([6]);
  });
});
