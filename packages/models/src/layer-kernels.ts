import { backendTraits } from '@distgan/runtime';
import * as tf from '@tensorflow/tfjs';

// The layer arithmetic of `Network.apply`, per backend and per what the backward pass needs.

/**
 * What a backward pass through `Network.apply` must produce: `weights` (training this network on
 * data), `weightsAndInput`, `input` alone (training what feeds a network held fixed, as G is
 * trained through D), or `none`: no backward pass follows (inference).
 */
export type GradientFlow = 'weights' | 'weightsAndInput' | 'input' | 'none';

/**
 * dL/dx = dy @ w^T, computed as (w @ dy^T)^T. The wasm backend hands a matMul's second operand to
 * XNNPACK as packed weights, repacking it whenever the tensor is new; transposing w first
 * (in x out -> out x in, a whole-matrix copy) and packing that copy cost more than the product
 * itself. Here only the small [rows, out] and [in, rows] matrices move: measured 2.2 vs 5.9 ms
 * for 64 rows through a 512 x 784 layer.
 */
function inputGradientOf(dy: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.transpose(tf.matMul(w, tf.transpose(dy))) as tf.Tensor2D;
}

/**
 * y = x @ w + b with a hand-written gradient that multiplies by explicit transposes. On the wasm
 * backend a matMul with transposeA/transposeB (what autodiff of matMul emits) runs 10x slower
 * than transposing first: measured here 54 ms vs 5.5 ms for [128,784]^T @ [128,600].
 * `inputGradient: false` skips dL/dx when x is data (images, noise, or fakes in the D phase).
 */
function makeDense(inputGradient: boolean) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    // Only x is saved: saving clones, and the wasm backend's clone copies the data, which for w
    // is a whole weight matrix per layer per call (0.8% of a worker's time in a profile of the
    // default model; the same bits). w is one of the network's variables, so it outlives the
    // backward pass without a copy.
    save([x]);
    return {
      value: tf.add(tf.matMul(x, w), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = dy as tf.Tensor2D;
        const sx = saved[0] as tf.Tensor2D;
        const dx = inputGradient ? inputGradientOf(d, w) : tf.zerosLike(sx);
        return [dx, tf.matMul(tf.transpose(sx), d), tf.sum(d, 0)];
      },
    };
  }) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;
}

const denseWithInputGradient = makeDense(true);
const denseWithoutInputGradient = makeDense(false);

/**
 * x @ w + b with w and b held constant: the backward pass gives dL/dx only. For D in the G
 * phase, whose weight gradients nobody reads; passing w and b as inputs (as `makeDense` does)
 * would make every backward pass compute them (a [in, rows] x [rows, out] matMul and a
 * transpose per layer).
 */
function frozenDense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return frozen<tf.Tensor2D>(
    x,
    (input) => tf.add(tf.matMul(input, w), b),
    (dy) => inputGradientOf(dy, w),
  );
}

/**
 * `forward(x)` with only x on the gradient tape, whose backward pass is `inputGradient(dy)`: a
 * layer whose weights, closed over, are held constant (`frozenDense`, `frozenConv`).
 */
function frozen<T extends tf.Tensor>(x: T, forward: (input: T) => T, inputGradient: (dy: T) => tf.Tensor): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as T;
    return { value: forward(input), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => inputGradient(dy as T) };
  }) as unknown as (x: T) => T;
  return f(x);
}

/** A 'same' convolution's kernel for dL/dx: rotated 180 degrees, input and output channels swapped. */
function rotated(w: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
}

/**
 * A stride-1 'same' convolution plus bias with a hand-written gradient. The wasm backend has no
 * Conv2DBackpropFilter kernel, and its Conv2DBackpropInput ran 10x slower than a forward conv
 * here (200 ms vs 17 ms for 64 x 14 x 14 x 32 -> 64), so both gradients are forward convs:
 * dL/dx convolves dy with the kernel rotated 180 degrees (channels swapped), and dL/dw
 * convolves the padded input with dy, batch as channels.
 */
function makeConv(inputGradient: boolean) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
    save([x]); // w is a variable: see makeDense
    return {
      value: tf.add(tf.conv2d(x, w, 1, 'same'), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = dy as tf.Tensor4D;
        const sx = saved[0] as tf.Tensor4D;
        const sw = w;
        const dx = inputGradient ? tf.conv2d(d, rotated(sw), 1, 'same') : tf.zerosLike(sx);
        const p = (sw.shape[0] - 1) / 2;
        const padded = tf.pad(sx, [
          [0, 0],
          [p, p],
          [p, p],
          [0, 0],
        ]);
        // [cin, h+2p, w+2p, n] (*) [h, w, n, cout] -> [cin, k, k, cout]
        const dw = tf.transpose(
          tf.conv2d(tf.transpose(padded, [3, 1, 2, 0]) as tf.Tensor4D, tf.transpose(d, [1, 2, 0, 3]) as tf.Tensor4D, 1, 'valid'),
          [1, 2, 0, 3],
        );
        return [dx, dw, tf.sum(d, [0, 1, 2])];
      },
    };
  }) as (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;
}

const convWithInputGradient = makeConv(true);
const convWithoutInputGradient = makeConv(false);

/** The conv of `makeConv` with w and b held constant: dL/dx only (see `frozenDense`). */
function frozenConv(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D): tf.Tensor4D {
  return frozen<tf.Tensor4D>(
    x,
    (input) => tf.add(tf.conv2d(input, w, 1, 'same'), b),
    (dy) => tf.conv2d(dy, rotated(w), 1, 'same'),
  );
}

/**
 * x @ w + b for inference. One row is a matrix-vector product, and XNNPACK (the wasm backend's
 * matMul without transposes) would first pack all of w, which a network loaded with new weights
 * pays again on every call: the coordinator's per-step probe of the seed preset (one row through
 * G and D, reloaded every step) spent 4 ms a step mostly packing. A transposed first operand takes
 * the backend's unpacked loop instead: 0.43 against 1.43 ms for one row through 784 x 512, with
 * a different summation order (not the same bits as the batched product). More rows keep the
 * batched product, so sample grids and evaluations are unchanged.
 */
function inferenceDense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const product = x.shape[0] === 1 ? tf.matMul(tf.reshape(x, [x.shape[1], 1]), w, true, false) : tf.matMul(x, w);
  return tf.add(product, b);
}

/**
 * x @ w + b as plain ops, for tfjs-node. There every op is a call into TensorFlow with a fixed
 * cost, a matMul's transposed operands cost nothing (its gradient multiplies with BatchMatMul's
 * adjoint flags), and autodiff already skips the gradients nobody asked for (the input's when x is
 * data, w's and b's when they are not among the variables differentiated): the hand-written
 * gradients above, made for wasm, only add Transpose ops (a fifth of a worker's time measured on
 * node). Neither backend's arithmetic depends on which one the other uses.
 */
function nativeDense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(x, w), b);
}

/** `frozenDense` for tfjs-node: dL/dx = dy @ w^T as one matMul with its transposed-operand flag. */
function nativeFrozenDense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return frozen<tf.Tensor2D>(
    x,
    (input) => nativeDense(input, w, b),
    (dy) => tf.matMul(dy, w, false, true),
  );
}

/** The dense layer for `flow` on the active backend; `inputGradient`: whether dL/dx is wanted. */
export function denseKernel(flow: GradientFlow, inputGradient: boolean): (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D {
  if (backendTraits().nativeKernels) return flow === 'input' ? nativeFrozenDense : nativeDense;
  if (flow === 'none') return inferenceDense;
  if (flow === 'input') return frozenDense;
  return inputGradient ? denseWithInputGradient : denseWithoutInputGradient;
}

/** The conv layer for `flow`; `inputGradient`: whether dL/dx is wanted. */
export function convKernel(flow: GradientFlow, inputGradient: boolean): (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D {
  if (flow === 'input' || flow === 'none') return frozenConv;
  return inputGradient ? convWithInputGradient : convWithoutInputGradient;
}
