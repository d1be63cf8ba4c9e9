import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { layersModelFiles, toLayersModel } from '@distgan/models';
import type { RunConfig } from '@distgan/training';
import { writeFileAtomic } from './atomic-file.js';

/**
 * Writes G as a TensorFlow.js LayersModel (`model.json` + `weights.bin`) under `dir`, loadable
 * with tf.loadLayersModel. Weights first, then model.json, each atomically: a reader never sees
 * a model.json pointing at weights of another step.
 */
export async function exportGenerator(dir: string, config: RunConfig, gWeights: Float32Array, step: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const model = toLayersModel(config.model.generator, gWeights, config.model.leakyReluAlpha, 'distgan_generator');
  try {
    const files = await layersModelFiles(model);
    writeFileAtomic(join(dir, 'weights.bin'), files.weightsBin);
    const modelJson = {
      ...files.modelJson,
      userDefinedMetadata: {
        step,
        noise: config.model.noise,
        classes: config.model.classes,
        pixelRange: config.model.pixelRange,
        preset: config.preset,
        seed: config.seed,
      },
    };
    writeFileAtomic(join(dir, 'model.json'), JSON.stringify(modelJson));
  } finally {
    model.dispose();
  }
  return join(dir, 'model.json');
}
