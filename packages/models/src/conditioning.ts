import * as tf from '@tensorflow/tfjs';
import type { GanModelConfig, NetworkConfig } from './types.js';
import { tensorOfReusedMemory } from './tensor-memory.js';

/**
 * `model` made class-conditional on `classes` classes: the same layers, with G's and D's inputs
 * widened by the one-hot code (see `GanModelConfig.classes`); `projection` also gives D a
 * projection of the code onto its last hidden layer (see `NetworkConfig.projection`).
 */
export function classConditional(model: GanModelConfig, classes: number, options: { readonly projection?: boolean } = {}): GanModelConfig {
  const widen = (net: NetworkConfig): NetworkConfig => ({ ...net, inputSize: net.inputSize + classes });
  const discriminator = widen(model.discriminator);
  return {
    ...model,
    classes,
    generator: widen(model.generator),
    discriminator: options.projection ? { ...discriminator, projection: { classes } } : discriminator,
  };
}

/** Pixels per image: D's input without the class code of a conditional model. */
export function imageSizeOf(model: GanModelConfig): number {
  return model.discriminator.inputSize - (model.classes ?? 0);
}

/**
 * `x` ([rows, width]: G's noise or D's images) with the one-hot code of each row's class
 * appended, as a conditional model's networks take it; `x` itself for an unconditional model
 * (`classes` must then be null). Differentiable in `x`, so a G-phase gradient flows through.
 */
export function withClassCode(model: GanModelConfig, x: tf.Tensor2D, classes: Int32Array | null): tf.Tensor2D {
  if (model.classes === undefined) {
    if (classes !== null) throw new Error('class codes given to an unconditional model');
    return x;
  }
  if (classes === null || classes.length !== x.shape[0])
    throw new Error(`a conditional model needs one class per row: ${x.shape[0]} rows, ${classes?.length ?? 0} classes`);
  const classCount = model.classes;
  return tf.tidy(() =>
    tf.concat([x, tf.cast(tf.oneHot(tensorOfReusedMemory<tf.Rank.R1>(classes, [classes.length]), classCount), 'float32') as tf.Tensor2D], 1),
  );
}

/**
 * Classes for sampling `rows` images: row i (counting from `firstRow`) draws class i mod classes,
 * so every class is equally represented (and a grid with `classes` columns shows one class per
 * column). Null when the model is unconditional.
 */
export function balancedClasses(model: GanModelConfig, rows: number, firstRow = 0): Int32Array | null {
  if (model.classes === undefined) return null;
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = (firstRow + i) % model.classes;
  return out;
}

/**
 * G's input for sampling `rows` images from `noise` (rows x noise.size floats): the noise, with
 * the balanced class code appended for a conditional model. For `Network.apply` or the exported
 * LayersModel's `predict`; the caller owns the tensor.
 */
export function generatorInput(model: GanModelConfig, noise: Float32Array, rows: number, firstRow = 0): tf.Tensor2D {
  return tf.tidy(() => withClassCode(model, tensorOfReusedMemory<tf.Rank.R2>(noise, [rows, model.noise.size]), balancedClasses(model, rows, firstRow)));
}
