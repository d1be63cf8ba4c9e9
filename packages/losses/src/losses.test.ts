import * as tf from '@tensorflow/tfjs';
import { nativeBackendRequired, selectBackend, type BackendName } from '@distgan/runtime';
import { describe, expect, it } from 'vitest';
import { discriminatorLoss, discriminatorLossTerm, discriminatorScore, generatorLoss, sigmoidCrossEntropy, sigmoidCrossEntropyValue } from './index.js';

describe('sigmoid cross-entropy on logits', () => {
  it('matches -z log s(x) - (1-z) log(1-s(x)) computed by hand', () => {
    // x = 0: log 2 for either label; x = 2, z = 1: log(1 + e^-2) = 0.126928; x = -1, z = 0: log(1 + e^-1) = 0.313262
    expect(sigmoidCrossEntropyValue(0, 1)).toBeCloseTo(Math.LN2, 12);
    expect(sigmoidCrossEntropyValue(2, 1)).toBeCloseTo(0.126928, 6);
    expect(sigmoidCrossEntropyValue(-1, 0)).toBeCloseTo(0.313262, 6);
    const t = tf.tidy(() => Array.from(sigmoidCrossEntropy(tf.tensor1d([0, 2, -1]), 1).dataSync()));
    expect(t[0]).toBeCloseTo(Math.LN2, 6);
    expect(t[1]).toBeCloseTo(0.126928, 6);
    expect(t[2]).toBeCloseTo(1.313262, 6);
  });

  it('stays finite and exact for huge logits where the naive formula overflows', () => {
    const t = tf.tidy(() => Array.from(sigmoidCrossEntropy(tf.tensor1d([1000, -1000]), 1).dataSync()));
    expect(t[0]).toBe(0);
    expect(t[1]).toBeCloseTo(1000, 3);
    expect(sigmoidCrossEntropyValue(-1000, 1)).toBe(1000);
  });
});

describe('sigmoid cross-entropy on every backend', () => {
  it("gives the formula's values and the gradient sigmoid(x) - z on cpu, wasm and (where set up) node, which uses its closed form", async () => {
    const tried: BackendName[] = [];
    try {
      for (const backend of ['cpu', 'wasm', 'node'] as const) {
        try {
          await selectBackend(backend);
        } catch (err) {
          // tfjs-node not set up here: the other backends still run (and it must be, when required: below).
          console.warn(`sigmoid cross-entropy on ${backend} skipped: ${(err as Error).message.split('\n')[0]}`);
          continue;
        }
        tried.push(backend);
        const logits = [-1000, -3, -0.5, 0, 0.5, 3, 1000];
        for (const label of [1, 0, 0.9]) {
          const before = tf.memory().numTensors;
          const { values, grads } = tf.tidy(() => {
            const x = tf.tensor1d(logits);
            const grad = tf.grad((t: tf.Tensor) => tf.sum(sigmoidCrossEntropy(t, label)))(x);
            return { values: Array.from(sigmoidCrossEntropy(x, label).dataSync()), grads: Array.from(grad.dataSync()) };
          });
          expect(tf.memory().numTensors).toBe(before);
          logits.forEach((x, i) => {
            expect(values[i], `${backend}: CE(${x}, ${label})`).toBeCloseTo(sigmoidCrossEntropyValue(x, label), 4);
            expect(grads[i], `${backend}: dCE/dx at ${x}, ${label}`).toBeCloseTo(1 / (1 + Math.exp(-x)) - label, 5);
          });
        }
      }
    } finally {
      await selectBackend();
    }
    expect(tried).toEqual(expect.arrayContaining(['cpu', 'wasm']));
    if (nativeBackendRequired()) expect(tried).toContain('node');
  });
});

describe('GAN losses', () => {
  const real = [2, -1];
  const fake = [0, 3];
  it('D loss = CE(real,1) + CE(fake,0) with sum and mean reductions', () => {
    const before = tf.memory().numTensors;
    const [sum, mean, smoothReal] = tf.tidy(() => {
      const r = tf.tensor2d(real, [2, 1]);
      const f = tf.tensor2d(fake, [2, 1]);
      return [
        discriminatorLoss(r, f, { reduction: 'sum' }).total.dataSync()[0]!,
        discriminatorLoss(r, f, { reduction: 'mean' }).total.dataSync()[0]!,
        discriminatorLoss(r, f, { reduction: 'sum', realLabel: 0.9 }).real.dataSync()[0]!,
      ];
    });
    const realSum = sigmoidCrossEntropyValue(2, 1) + sigmoidCrossEntropyValue(-1, 1);
    const fakeSum = sigmoidCrossEntropyValue(0, 0) + sigmoidCrossEntropyValue(3, 0);
    expect(sum).toBeCloseTo(realSum + fakeSum, 5);
    expect(mean).toBeCloseTo((realSum + fakeSum) / 2, 5);
    expect(smoothReal).toBeCloseTo(sigmoidCrossEntropyValue(2, 0.9) + sigmoidCrossEntropyValue(-1, 0.9), 5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('each D term alone equals its part of the D loss, with the real label and objective applied to the real term only', () => {
    const before = tf.memory().numTensors;
    for (const options of [
      { reduction: 'sum', realLabel: 0.9 },
      { reduction: 'mean', objective: 'leastSquares', realLabel: 0.8 },
    ] as const) {
      const [termReal, termFake, partReal, partFake] = tf.tidy(() => {
        const r = tf.tensor2d(real, [2, 1]);
        const f = tf.tensor2d(fake, [2, 1]);
        const both = discriminatorLoss(r, f, options);
        return [discriminatorLossTerm(r, 'real', options), discriminatorLossTerm(f, 'fake', options), both.real, both.fake].map((t) => t.dataSync()[0]!);
      });
      expect(termReal).toBe(partReal);
      expect(termFake).toBe(partFake);
      expect(termReal).not.toBe(termFake);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('G loss is the non-saturating CE(fake, 1)', () => {
    const g = tf.tidy(() => generatorLoss(tf.tensor1d(fake), { reduction: 'mean' }).dataSync()[0]!);
    expect(g).toBeCloseTo((sigmoidCrossEntropyValue(0, 1) + sigmoidCrossEntropyValue(3, 1)) / 2, 6);
  });
});

describe('least-squares objective (LSGAN)', () => {
  it('D: 0.5 (D(x) - realLabel)^2 + 0.5 D(G(z))^2, G: 0.5 (D(G(z)) - 1)^2, scored by the raw output', () => {
    const before = tf.memory().numTensors;
    const [d, dSmooth, g, score] = tf.tidy(() => {
      const r = tf.tensor1d([2, -1]);
      const f = tf.tensor1d([0, 3]);
      return [
        discriminatorLoss(r, f, { reduction: 'sum', objective: 'leastSquares' }).total.dataSync()[0]!,
        discriminatorLoss(r, f, { reduction: 'mean', objective: 'leastSquares', realLabel: 0.9 }).real.dataSync()[0]!,
        generatorLoss(f, { reduction: 'mean', objective: 'leastSquares' }).dataSync()[0]!,
        Array.from(discriminatorScore(f, 'leastSquares').dataSync()),
      ];
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(d).toBeCloseTo(0.5 * (1 + 4) + 0.5 * (0 + 9), 5);
    expect(dSmooth).toBeCloseTo((0.5 * 1.1 ** 2 + 0.5 * 1.9 ** 2) / 2, 5);
    expect(g).toBeCloseTo((0.5 * 1 + 0.5 * 4) / 2, 5);
    expect(score).toEqual([0, 3]);
    // The default objective is still cross-entropy, scored by the sigmoid.
    expect(tf.tidy(() => discriminatorScore(tf.scalar(0)).dataSync()[0])).toBe(0.5);
  });
});
