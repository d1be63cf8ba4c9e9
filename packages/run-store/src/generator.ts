import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import {
  computeToArray,
  generatorInput,
  imageSizeOf,
  layersModelFiles,
  loadLayersModelFiles,
  readLayersModelFiles,
  toLayersModel,
  type GanModelConfig,
} from '@distgan/models';
import type { RunConfig } from '@distgan/training';
import { writeFileAtomic } from './atomic-file.js';
import type { RunLayout } from './run-layout.js';

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

/** A run's exported generator, loaded. */
export interface ExportedGenerator {
  readonly model: tf.LayersModel;
  /** Its `model.json`. */
  readonly file: string;
  /** The step it was written at (-1 when the file does not say). */
  readonly step: number;
}

/** The run's exported generator (`generator/model.json`), or null where the run has none yet. The caller disposes the model. */
export async function loadExportedGenerator(layout: RunLayout): Promise<ExportedGenerator | null> {
  const file = join(layout.generatorDir, 'model.json');
  if (!existsSync(file)) return null;
  const files = readLayersModelFiles(layout.generatorDir);
  const step = (files.modelJson.userDefinedMetadata as { step?: number } | undefined)?.step ?? -1;
  return { model: await loadLayersModelFiles(files), file, step };
}

/** Rows drawn per call to the generator: bounds the memory of a large draw. */
const ROWS_PER_CALL = 1000;

/**
 * `generate`'s images for `n` rows of `noise` (the model's noise size each), in calls of at most
 * 1,000 rows; row i gets class i mod classes in a class-conditional model (`generatorInput`).
 * Pixels in the model's own range.
 */
export function drawImages(model: GanModelConfig, generate: (input: tf.Tensor2D) => tf.Tensor, noise: Float32Array, n: number): Float32Array {
  const pixels = imageSizeOf(model);
  const images = new Float32Array(n * pixels);
  for (let start = 0; start < n; start += ROWS_PER_CALL) {
    const rows = Math.min(ROWS_PER_CALL, n - start);
    const z = noise.subarray(start * model.noise.size, (start + rows) * model.noise.size);
    images.set(
      computeToArray(() => generate(generatorInput(model, z, rows, start))),
      start * pixels,
    );
  }
  return images;
}
