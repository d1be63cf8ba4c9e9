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
