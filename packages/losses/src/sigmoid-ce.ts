import { backendTraits } from '@distgan/runtime';
import * as tf from '@tensorflow/tfjs';

export type Reduction = 'sum' | 'mean';

/**
 * Element-wise sigmoid cross-entropy of logits x against label z, in TensorFlow's stable form
 * max(x, 0) - x*z + log(1 + exp(-|x|)), which never overflows for large |x|.
 */
export function sigmoidCrossEntropy(logits: tf.Tensor, label: number): tf.Tensor {
  if (backendTraits().nativeKernels) return sigmoidCrossEntropyClosedFormGradient(logits, label);
  return tf.tidy(() => stableFormula(logits, label));
}

function stableFormula(logits: tf.Tensor, label: number): tf.Tensor {
  return tf.add(tf.sub(tf.relu(logits), tf.mul(logits, label)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
}

/**
 * The same function, computed as softplus(x) - x z and differentiated in closed form:
 * d/dx = sigmoid(x) - z, two ops. Autodiff of the
 * stable formula goes through relu's and abs's gradients, which tfjs-node builds from a dozen
 * small kernels (Step, Select, IsNan, Greater, Cast, ...), each a call into TensorFlow: measured
 * here at a tenth of a D-phase shard. Used on tfjs-node only; on wasm and cpu those ops are
 * cheap, and the gradient's bits there stay those of autodiff.
 */
function sigmoidCrossEntropyClosedFormGradient(logits: tf.Tensor, label: number): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return {
      // softplus(x) - x z: TensorFlow's Softplus is the stable log(1 + e^x), one kernel for four.
      value: tf.sub(tf.softplus(x), tf.mul(x, label)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.mul(dy as tf.Tensor, tf.sub(tf.sigmoid(saved[0]!), label)),
    };
  }) as (x: tf.Tensor) => tf.Tensor;
  return f(logits);
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
