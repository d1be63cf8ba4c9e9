import * as tf from '@tensorflow/tfjs';
import { randomStream } from '@distgan/rng';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  configHash,
  CONV_MODEL,
  DEFAULT_MODEL,
  dropoutWidths,
  fillDropoutMask,
  quantizedDropoutRate,
  Network,
  validateModelConfig,
  type GanModelConfig,
  type NetworkConfig,
} from './index.js';

beforeAll(async () => {
  await selectBackend(); // DISTGAN_BACKEND, else auto: the backend users get
});

describe('dropout', () => {
  const withDropout = (rate: number): GanModelConfig => ({ ...DEFAULT_MODEL, discriminator: { ...DEFAULT_MODEL.discriminator, dropout: rate } });

  it('draws masks of 0 and 1/(1 - rate) at the quantized rate, row i the same whether alone or inside a larger block', () => {
    const stream = randomStream(3, 'dropout-test');
    const rate = quantizedDropoutRate(0.3);
    expect(rate).toBe(77 / 256);
    const all = fillDropoutMask(0.3, stream, 0, 200, 257);
    const keep = 1 / (1 - rate);
    expect(all.every((x) => x === 0 || x === Math.fround(keep))).toBe(true);
    const dropped = all.reduce((n, x) => n + (x === 0 ? 1 : 0), 0) / all.length;
    expect(Math.abs(dropped - rate)).toBeLessThan(0.01);
    // Inverted dropout keeps each unit's expected value.
    expect(Math.abs(all.reduce((s, x) => s + x, 0) / all.length - 1)).toBeLessThan(0.02);
    expect(Array.from(fillDropoutMask(0.3, stream, 57, 3, 257))).toEqual(Array.from(all.subarray(57 * 257, 60 * 257)));
    expect(Array.from(fillDropoutMask(0.3, randomStream(4, 'dropout-test'), 57, 3, 257))).not.toEqual(Array.from(all.subarray(57 * 257, 60 * 257)));
  });

  it('is validated: discriminator only, dense only, a rate that survives quantization', () => {
    expect(() => validateModelConfig(withDropout(0.3))).not.toThrow();
    expect(dropoutWidths(withDropout(0.3).discriminator)).toEqual([512, 256]);
    expect(dropoutWidths(DEFAULT_MODEL.discriminator)).toEqual([]);
    expect(() => validateModelConfig(withDropout(1))).toThrow(/dropout rate must be in \(0, 1\), got 1/);
    expect(() => validateModelConfig(withDropout(0.001))).toThrow(/rounds to 0/);
    expect(() => validateModelConfig({ ...DEFAULT_MODEL, generator: { ...DEFAULT_MODEL.generator, dropout: 0.3 } })).toThrow(
      /only the discriminator can have dropout/,
    );
    expect(() => validateModelConfig({ ...CONV_MODEL, discriminator: { ...CONV_MODEL.discriminator, dropout: 0.3 } })).toThrow(/dense layers only/);
    // An absent rate leaves old configs' hashes alone.
    expect(configHash({ ...DEFAULT_MODEL, discriminator: { ...DEFAULT_MODEL.discriminator, dropout: undefined } })).toBe(configHash(DEFAULT_MODEL));
  });

  it('multiplies each hidden output by its mask, and without masks runs as at inference', () => {
    const config: NetworkConfig = {
      inputSize: 3,
      layers: [
        { units: 4, activation: 'relu' },
        { units: 1, activation: 'linear' },
      ],
      dropout: 0.5,
    };
    const net = new Network('dropout-test', config);
    net.load(Float32Array.from({ length: net.size }, (_, i) => ((i * 7) % 5) / 5 - 0.3));
    const before = tf.memory().numTensors;
    const [plain, ones, masked, manual] = tf.tidy(() => {
      const x = tf.tensor2d([
        [1, 2, 3],
        [-1, 0.5, 2],
      ]);
      const mask = tf.tensor2d([
        [2, 0, 2, 0],
        [0, 2, 0, 2],
      ]);
      const [w1, b1, w2, b2] = net.variables as unknown as [tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D];
      const hidden = tf.mul(tf.relu(tf.add(tf.matMul(x, w1), b1)), mask);
      return [net.apply(x), net.apply(x, 'weights', [tf.onesLike(mask)]), net.apply(x, 'weights', [mask]), tf.add(tf.matMul(hidden, w2), b2)].map((t) =>
        Array.from(t.dataSync()),
      );
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(ones).toEqual(plain);
    expect(masked).not.toEqual(plain);
    masked!.forEach((v, i) => {
      expect(v).toBeCloseTo(manual![i]!, 5);
    });
    expect(() => tf.tidy(() => net.apply(tf.zeros([1, 3]), 'weights', []))).toThrow(/takes 1 dropout masks, got 0/);
    net.dispose();
  });
});
