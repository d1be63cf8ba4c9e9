import * as tf from '@tensorflow/tfjs';
import { discriminatorScore, type GanObjective } from '@distgan/losses';
import { balancedClasses, fillNoise, generatorInput, withClassCode, type GanModelConfig } from '@distgan/models';
import { randomStream } from '@distgan/rng';
import type { GanNetworks } from './networks.js';

/** Fixed noise for sample grids: the same z every time, so grids over a run are comparable. */
export function sampleNoise(networks: GanNetworks, seed: number, count: number): Float32Array {
  return fillNoise(networks.model.noise, randomStream(seed, 'samples'), 0, count);
}

/** Digits in a sample grid unless asked otherwise: 8x8, or ten of each class for a conditional model. */
export function defaultSampleCount(model: GanModelConfig): number {
  return model.classes === undefined ? 64 : 10 * model.classes;
}

/** The tutorial's per-iteration probe: one sample's max pixel (as 0..255) and D(G(z)) for it (D's score under `objective`: see `discriminatorScore`). */
export function probeSample(networks: GanNetworks, seed: number, step: number, objective?: GanObjective): { maxPixel: number; dFake: number } {
  const noise = fillNoise(networks.model.noise, randomStream(seed, 'probe', step), 0, 1);
  return tf.tidy(() => {
    // 'none': one row through networks reloaded every step multiplies without packing their weights.
    const image = networks.g.apply(generatorInput(networks.model, noise, 1), 'none');
    const dFake = discriminatorScore(
      networks.d.apply(withClassCode(networks.model, image, balancedClasses(networks.model, 1)), 'none'),
      objective,
    ).dataSync()[0]!;
    const { min, max } = networks.model.pixelRange;
    const maxPixel = ((tf.max(image).dataSync()[0]! - min) / (max - min)) * 255;
    return { maxPixel, dFake };
  });
}
