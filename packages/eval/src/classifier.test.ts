import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '@distgan/mnist';
import { randomStream } from '@distgan/rng';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadOrTrainClassifier, MnistClassifier, QualityEvaluator, type QualityMetrics } from './index.js';

const trainSet = loadMnist();
const testSet = loadMnist({ split: 'test' });
let classifier: MnistClassifier;
let cacheDir: string;
let evaluator: QualityEvaluator;

beforeAll(async () => {
  await selectBackend();
  const loaded = await loadOrTrainClassifier({ trainSet, testSet, log: (m) => console.log(m) });
  classifier = loaded.classifier;
  cacheDir = loaded.dir;
  evaluator = new QualityEvaluator(classifier, testSet);
});

describe('evaluation classifier', () => {
  it('reaches at least 98.5% on the MNIST test split', () => {
    expect(classifier.testAccuracy).toBeGreaterThanOrEqual(0.985);
  });

  it('is cached: the second call loads the same weights instead of training', async () => {
    const again = await loadOrTrainClassifier({ trainSet, testSet });
    expect(again.trained).toBe(false);
    expect(again.dir).toBe(cacheDir);
    const images = testSet.batch([0, 1, 2]);
    expect(Array.from(again.classifier.run(images, 3).probs)).toEqual(Array.from(classifier.run(images, 3).probs));
    again.classifier.dispose();
  });

  it('rejects a damaged cache with a message naming the file', () => {
    // A scratch folder, not the user's cache (an earlier version left a broken-<pid> there per run).
    const broken = mkdtempSync(join(tmpdir(), 'distgan-broken-classifier-'));
    try {
      classifier.save(broken);
      writeFileSync(join(broken, 'weights.bin'), new Uint8Array(10));
      expect(() => MnistClassifier.load(broken)).toThrow(/weights\.bin is 10 bytes, expected/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('leaks no tensors when scoring', () => {
    const before = tf.memory().numTensors;
    classifier.run(testSet.batch([5, 6]), 2);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('quality metrics separate real digits from noise and from a collapsed generator', () => {
  const n = 1000;
  let real: QualityMetrics;
  beforeAll(() => {
    real = evaluator.evaluateReal(trainSet, n);
  });

  it('real digits: high classifier score, small distance, all classes', () => {
    expect(real.classifierScore).toBeGreaterThan(9);
    expect(real.maxClassShare).toBeLessThan(0.2);
    expect(evaluator.evaluateReal(trainSet, n).frechetDistance).toBe(real.frechetDistance); // deterministic
  });

  it('uniform noise: low score and a distance far above the real one', () => {
    const noise = randomStream(1, 'noise-images').fillUniform(new Float32Array(n * 784), 0);
    const m = evaluator.evaluate(noise, n);
    expect(m.classifierScore).toBeLessThan(3);
    expect(m.frechetDistance).toBeGreaterThan(20 * real.frechetDistance);
  });

  it('a collapsed generator (one image repeated): score 1, one class, large distance', () => {
    const one = testSet.batch([0]);
    const collapsed = new Float32Array(n * 784);
    for (let r = 0; r < n; r++) collapsed.set(one, r * 784);
    const m = evaluator.evaluate(collapsed, n);
    expect(m.classifierScore).toBeCloseTo(1, 3);
    expect(m.maxClassShare).toBe(1);
    expect(m.frechetDistance).toBeGreaterThan(10 * real.frechetDistance);
  });
});
