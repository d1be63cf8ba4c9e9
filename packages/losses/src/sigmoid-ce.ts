import * as tf from '@tensorflow/tfjs';

export type Reduction = 'sum' | 'mean';

/**
 * Element-wise sigmoid cross-entropy of logits x against label z, in TensorFlow's stable form
 * max(x, 0) - x*z + log(1 + exp(-|x|)), which never overflows for large |x|.
 */
export function sigmoidCrossEntropy(logits: tf.Tensor, label: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.sub(tf.relu(logits), tf.mul(logits, label)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
}

/** The same formula on plain numbers, for references and statistics outside tfjs. */
export function sigmoidCrossEntropyValue(logit: number, label: number): number {
  return Math.max(logit, 0) - logit * label + Math.log1p(Math.exp(-Math.abs(logit)));
}

export function reduce(values: tf.Tensor, reduction: Reduction): tf.Scalar {
  switch (reduction) {
    case 'sum':
      return tf.sum(values);
    case 'mean':
      return tf.mean(values);
    default: {
      const unknown: never = reduction;
      throw new Error(`unknown reduction ${String(unknown)}`);
    }
  }
}
