import { fillNoise } from '@distgan/models';
import { randomStream } from '@distgan/rng';
import { drawImages, loadExportedGenerator, readRunConfig, runLayout } from '@distgan/run-store';
import type * as tf from '@tensorflow/tfjs';
import { toUnitRange } from './quality.js';

/**
 * n images from a run directory's exported generator (`generator/model.json`): noise row i from
 * the stream (seed, 'eval'), classes balanced for a conditional model, pixels mapped to [0, 1].
 * `step` is the step the export was written at (-1 when it does not say).
 */
export async function generatedImages(runDir: string, n: number, seed: number): Promise<{ images: Float32Array; step: number }> {
  const layout = runLayout(runDir);
  const model = readRunConfig(layout).model;
  const exported = await loadExportedGenerator(layout);
  if (!exported) throw new Error(`${runDir} has no generator/model.json (a run exports one at every checkpoint and at its end)`);
  const noise = fillNoise(model.noise, randomStream(seed, 'eval'), 0, n);
  try {
    const images = drawImages(model, (input) => exported.model.predict(input) as tf.Tensor, noise, n);
    return { images: toUnitRange(images, model.pixelRange), step: exported.step };
  } finally {
    exported.model.dispose();
  }
}
