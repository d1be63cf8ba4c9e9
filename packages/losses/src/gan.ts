import * as tf from '@tensorflow/tfjs';
import { reduce, sigmoidCrossEntropy, type Reduction } from './sigmoid-ce.js';

/**
 * `crossEntropy`: the tutorial's sigmoid cross-entropy on D's logit (G non-saturating).
 * `leastSquares`: LSGAN (Mao et al. 2017), squared distance of D's raw output to the targets.
 */
export type GanObjective = 'crossEntropy' | 'leastSquares';

export interface GanLossOptions {
  readonly reduction: Reduction;
  /** Default `crossEntropy`. */
  readonly objective?: GanObjective;
  /** Target for real images in D's loss; 1 in the tutorial, e.g. 0.9 for one-sided label smoothing. */
  readonly realLabel?: number;
}

export interface DiscriminatorLoss {
  readonly real: tf.Scalar;
  readonly fake: tf.Scalar;
  /** real + fake: the tutorial's D_obj (with `mean`). */
  readonly total: tf.Scalar;
}

/** Per-row loss of D's outputs against a target, under the objective. */
function targetLoss(outputs: tf.Tensor, target: number, objective: GanObjective = 'crossEntropy'): tf.Tensor {
  switch (objective) {
    case 'crossEntropy':
      return sigmoidCrossEntropy(outputs, target);
    case 'leastSquares':
      return tf.tidy(() => tf.mul(tf.square(tf.sub(outputs, target)), 0.5));
    default: {
      const unknown: never = objective;
      throw new Error(`unknown GAN objective ${String(unknown)}`);
    }
  }
}

/**
 * One of D's two terms: L(D(x), realLabel) for `real` outputs, L(D(G(z)), 0) for `fake` ones. Its
 * gradient alone is the term's share of `discriminatorLoss`'s (a worker computes the real
 * images' share before G's snapshot arrives).
 */
export function discriminatorLossTerm(outputs: tf.Tensor, source: 'real' | 'fake', options: GanLossOptions): tf.Scalar {
  return reduce(targetLoss(outputs, source === 'real' ? (options.realLabel ?? 1) : 0, options.objective), options.reduction);
}

/** D's loss: L(D(x), realLabel) + L(D(G(z)), 0), each reduced separately as the tutorial does (L: the objective's, cross-entropy by default). */
export function discriminatorLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor, options: GanLossOptions): DiscriminatorLoss {
  const real = discriminatorLossTerm(realLogits, 'real', options);
  const fake = discriminatorLossTerm(fakeLogits, 'fake', options);
  return { real, fake, total: tf.add(real, fake) };
}

/** G's loss L(D(G(z)), 1): with cross-entropy the non-saturating -log D(G(z)). */
export function generatorLoss(fakeLogits: tf.Tensor, options: GanLossOptions): tf.Scalar {
  return reduce(targetLoss(fakeLogits, 1, options.objective), options.reduction);
}

/** What D's output says about "real" on a 0-1 scale: sigmoid(logit) for cross-entropy, the raw output (trained towards 1 and 0) for least squares. */
export function discriminatorScore(outputs: tf.Tensor, objective: GanObjective = 'crossEntropy'): tf.Tensor {
  return objective === 'leastSquares' ? outputs : tf.sigmoid(outputs);
}
