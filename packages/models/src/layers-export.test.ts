import * as tf from '@tensorflow/tfjs';
import { randomStream } from '@distgan/rng';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MODEL,
  fillNoise,
  initialSnapshot,
  layersModelFiles,
  loadLayersModelFiles,
  Network,
  SEED_MODEL,
  toLayersModel,
  upsamplingGenerator,
  type GanModelConfig,
} from './index.js';

/** A small convolutional generator: dense -> [7,7,4] -> upsample -> conv -> upsample -> 5x5 conv -> flatten. */
const CONV_G: GanModelConfig = {
  ...DEFAULT_MODEL,
  noise: { distribution: 'normal', size: 8, mean: 0, std: 1 },
  generator: upsamplingGenerator({ noiseSize: 8, mapChannels: 4, hiddenFilters: 3, outputKernel: 5, outputActivation: 'tanh' }),
};

describe('LayersModel export', () => {
  for (const [name, model] of [
    ['seed (tanh/sigmoid)', SEED_MODEL],
    ['default (leakyRelu/tanh)', DEFAULT_MODEL],
    ['convolutional', CONV_G],
  ] as const) {
    it(`${name}: the saved-and-loaded model draws the same images as the training generator`, async () => {
      const g = new Network('G', model.generator, model.leakyReluAlpha);
      const snapshot = initialSnapshot(g.spec, 'glorotUniform', [7, 'export']); // glorot: non-trivial outputs for both
      g.load(snapshot);
      const z = fillNoise(model.noise, randomStream(7, 'z'), 0, 5);
      const expected = tf.tidy(() => g.apply(tf.tensor2d(z, [5, model.noise.size])).dataSync());

      const before = tf.memory().numTensors;
      const exported = toLayersModel(model.generator, snapshot, model.leakyReluAlpha);
      const files = await layersModelFiles(exported);
      exported.dispose();
      // As if written to disk and read back: model.json as text, weights as a fresh byte copy.
      const loaded = await loadLayersModelFiles({ modelJson: JSON.parse(JSON.stringify(files.modelJson)), weightsBin: Uint8Array.from(files.weightsBin) });
      const actual = tf.tidy(() => (loaded.predict(tf.tensor2d(z, [5, model.noise.size])) as tf.Tensor).dataSync());
      loaded.dispose();
      expect(tf.memory().numTensors).toBe(before);
      let maxDiff = 0;
      for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i]! - actual[i]!));
      expect(maxDiff).toBeLessThan(1e-6);
      expect(files.weightsBin.byteLength).toBe(4 * g.size);
      g.dispose();
    });
  }
});
