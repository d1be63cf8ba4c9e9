import * as tf from '@tensorflow/tfjs';
import { reduce, sigmoidCrossEntropy, type Reduction } from './sigmoid-ce.js';

export interface GanLossOptions {
  readonly reduction: Reduction;
  /** Target for real images in D's loss; 1 in the tutorial, e.g. 0.9 for one-sided label smoothing. */
  readonly realLabel?: number;
}

export interface DiscriminatorLoss {
  readonly real: tf.Scalar;
  readonly fake: tf.Scalar;
  /** real + fake: the tutorial's D_obj (with `mean`). */
  readonly total: tf.Scalar;
}

/** D's loss: CE(D(x), realLabel) + CE(D(G(z)), 0), each reduced separately as the tutorial does. */
export function discriminatorLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor, options: GanLossOptions): DiscriminatorLoss {
  const real = reduce(sigmoidCrossEntropy(realLogits, options.realLabel ?? 1), options.reduction);
  const fake = reduce(sigmoidCrossEntropy(fakeLogits, 0), options.reduction);
  return { real, fake, total: tf.add(real, fake) };
}

/** G's non-saturating loss: CE(D(G(z)), 1), i.e. minimise -log D(G(z)). */
export function generatorLoss(fakeLogits: tf.Tensor, options: GanLossOptions): tf.Scalar {
  return reduce(sigmoidCrossEntropy(fakeLogits, 1), options.reduction);
}
