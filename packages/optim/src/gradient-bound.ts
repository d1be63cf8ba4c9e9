/** The largest float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The largest magnitude of a mean gradient value that Adam's float32 state always holds: its
 * second moment is a moving average of squared gradients, at most the largest one squared, so a
 * mean gradient up to sqrt(float32 max) (halved, for margin) keeps it finite, and the first moment
 * and the update with it. Gradients near this are nowhere near any real training's; a value past
 * it is a fault (or a lie), to be refused rather than let freeze the state at infinity.
 */
export const MAX_MEAN_GRADIENT = Math.sqrt(FLOAT32_MAX) / 2;

/**
 * The largest magnitude a value of one shard's gradient sum may have so that the mean of `shards`
 * such sums over `batchSize` rows stays within `MAX_MEAN_GRADIENT` whatever the other shards hold.
 */
export function shardGradientBound(batchSize: number, shards: number): number {
  return (MAX_MEAN_GRADIENT * batchSize) / shards;
}

/**
 * The index of the first value of `sum / divisor` that is NaN, infinite or beyond
 * `MAX_MEAN_GRADIENT`, or -1: what `Adam.apply` must not be given.
 */
export function firstUnusableGradient(sum: Float64Array, divisor: number): number {
  const bound = MAX_MEAN_GRADIENT * divisor;
  // x * scale overflows float64 for |x| beyond about `bound` (scale rounded up, so never short of
  // it), and overflow or NaN times 0 is NaN: blocks of eight without a branch, then exact tests
  // from the first block flagged.
  const scale = (Number.MAX_VALUE / bound) * (1 + 2 ** -20);
  const n = sum.length;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const zeroWhenUsable =
      sum[i]! * scale * 0 +
      sum[i + 1]! * scale * 0 +
      sum[i + 2]! * scale * 0 +
      sum[i + 3]! * scale * 0 +
      sum[i + 4]! * scale * 0 +
      sum[i + 5]! * scale * 0 +
      sum[i + 6]! * scale * 0 +
      sum[i + 7]! * scale * 0;
    if (zeroWhenUsable !== 0) break;
  }
  for (; i < n; i++) {
    const v = sum[i]!;
    if (v - v !== 0 || v > bound || v < -bound) return i; // v - v is NaN for NaN and +-Infinity
  }
  return -1;
}
