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

describe('ShardOrderedSum', () => {
  it('gives the same bits reused after reset() or in a given array as fresh, whatever the arrival order, -0 included', () => {
    const shards = [Float32Array.of(-0, 1.5, 1e-8, -0), Float32Array.of(-0, 2 ** -30, 3, 0), Float32Array.of(-0, 7, -1e-8, -0)];
    const fresh = new ShardOrderedSum(4, 3);
    for (const [k, g] of shards.entries()) fresh.add(k, g);
    // A given array (the coordinator passes Adam's gradient buffer) holding leftovers.
    const into = Float64Array.of(5, -5, 5, -5);
    const reused = new ShardOrderedSum(4, 3, into);
    expect(() => new ShardOrderedSum(4, 3, new Float64Array(3))).toThrow(/a sum of 4 values cannot live in an array of 3/);
    reused.add(0, Float32Array.of(9, 9, 9, 9)); // leaves non-zero values behind
    reused.reset();
    expect(reused.complete).toBe(false);
    for (const k of [2, 0, 1]) expect(reused.add(k, shards[k]!)).toBe(true);
    expect(reused.add(1, shards[1]!)).toBe(false);
    const bits = (a: Float64Array) => Array.from(new Uint32Array(a.buffer));
    expect(bits(reused.total())).toEqual(bits(fresh.total()));
    expect(reused.total()).toBe(into);
    expect(Object.is(fresh.total()[0], 0)).toBe(true); // 0 + -0 + -0 + -0 is +0, as from a zeroed sum
    expect(Object.is(fresh.total()[3], 0)).toBe(true);
  });

  it('gives the in-order bits for every arrival order of 2 and 3 shards, where reordering later terms would change them', () => {
    const tiny = 2 ** -53; // 1 + tiny rounds to 1 in float64, tiny + tiny + 1 does not
    // Per coordinate (column) the shards' values; column 1 and 2 tell apart sums in different orders.
    // Six columns: the sum folds four values per iteration, so columns 4 and 5 take the loop's tail.
    const shards = [Float32Array.of(-0, tiny, 1, 1.5, 0, 2.5), Float32Array.of(-0, tiny, tiny, -(2 ** -30), -0, 0.25), Float32Array.of(-0, 1, tiny, 7, -0, 3)];
    const bits = (a: Float64Array) => Array.from(new Uint32Array(a.buffer.slice(0)));
    const permutations = (items: number[]): number[][] =>
      items.length <= 1 ? [items] : items.flatMap((x, i) => permutations(items.filter((_, j) => j !== i)).map((rest) => [x, ...rest]));
    for (const k of [2, 3]) {
      const inOrder = new ShardOrderedSum(6, k);
      for (let s = 0; s < k; s++) inOrder.add(s, shards[s]!);
      const expected = bits(inOrder.total());
      // In order is the plain left-to-right float64 sum, column by column.
      expect(expected).toEqual(bits(Float64Array.from(shards[0]!, (_, c) => shards.slice(0, k).reduce((acc, g) => acc + g[c]!, 0))));
      const sum = new ShardOrderedSum(6, k);
      for (const order of permutations([...Array(k).keys()])) {
        sum.reset();
        order.forEach((s, i) => {
          expect(sum.complete).toBe(false);
          expect(sum.add(s, shards[s]!)).toBe(true);
          expect(sum.has(s)).toBe(true);
          if (i < k - 1) expect(() => sum.total()).toThrow(/shards are summed/);
        });
        expect(sum.complete).toBe(true);
        expect(bits(sum.total()), `K=${k}, order ${order.join(',')}`).toEqual(expected);
      }
    }
    // The guard itself: summing the 3 shards in another order than 0, 1, 2 (or 1, 0, 2) gives other bits.
    const reordered = new Float64Array(6).map((_, i) => 0 + shards[0]![i]! + shards[2]![i]! + shards[1]![i]!);
    expect(bits(reordered)).not.toEqual(bits(new Float64Array(6).map((_, i) => 0 + shards[0]![i]! + shards[1]![i]! + shards[2]![i]!)));
  });
});
