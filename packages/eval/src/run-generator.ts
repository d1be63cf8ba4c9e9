import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { computeToArray, fillNoise, generatorInput, imageSizeOf, loadLayersModelFiles, readLayersModelFiles } from '@distgan/models';
import { randomStream } from '@distgan/rng';
import { readRunConfig, runLayout } from '@distgan/training';
import { toUnitRange } from './quality.js';

/**
 * n images from a run directory's exported generator (`generator/model.json`): noise row i from
 * the stream (seed, 'eval'), classes balanced for a conditional model, pixels mapped to [0, 1].
 * `step` is the step the export was written at (-1 when it does not say).
 */
export async function generatedImages(runDir: string, n: number, seed: number): Promise<{ images: Float32Array; step: number }> {
  const layout = runLayout(runDir);
  const model = readRunConfig(layout).model;
  if (!existsSync(join(layout.generatorDir, 'model.json')))
    throw new Error(`${runDir} has no generator/model.json (a run exports one at every checkpoint and at its end)`);
  const files = readLayersModelFiles(layout.generatorDir);
  const g = await loadLayersModelFiles(files);
  const noise = fillNoise(model.noise, randomStream(seed, 'eval'), 0, n);
  const pixels = imageSizeOf(model);
  const images = new Float32Array(n * pixels);
  try {
    for (let start = 0; start < n; start += 1000) {
      const rows = Math.min(1000, n - start);
      const z = noise.subarray(start * model.noise.size, (start + rows) * model.noise.size);
      images.set(
        computeToArray(() => g.predict(generatorInput(model, z, rows, start)) as tf.Tensor),
        start * pixels,
      );
    }
  } finally {
    g.dispose();
  }
  return { images: toUnitRange(images, model.pixelRange), step: (files.modelJson.userDefinedMetadata as { step?: number } | undefined)?.step ?? -1 };
}
