import * as tf from '@tensorflow/tfjs';
import { randomStream } from '@distgan/rng';
import { describe, expect, it } from 'vitest';
import { configHash, DEFAULT_MODEL, fillNoise, initialSnapshot, Mlp, parameterCount, parameterSpec, SEED_MODEL, snapshotSha256, validateModelConfig } from './index.js';

describe('seed preset', () => {
  it('has the tutorial parameter counts: G 591,784 and D 471,601', () => {
    expect(parameterCount(parameterSpec(SEED_MODEL.generator))).toBe(591_784);
    expect(parameterCount(parameterSpec(SEED_MODEL.discriminator))).toBe(471_601);
    expect(parameterSpec(SEED_MODEL.discriminator).map((p) => `${p.name}:${p.shape.join('x')}`)).toEqual(['w1:784x600', 'b1:600', 'w2:600x1', 'b2:1']);
    expect(() => validateModelConfig(SEED_MODEL)).not.toThrow();
    expect(() => validateModelConfig(DEFAULT_MODEL)).not.toThrow();
  });

  it('initialises kernels normal(0, 1/fan_in), biases 0, the same for the same key only', () => {
    const spec = parameterSpec(SEED_MODEL.discriminator);
    const a = initialSnapshot(spec, 'normalInvFanIn', [5, 'init', 'D']);
    const w1 = spec[0]!;
    const kernel = a.subarray(w1.offset, w1.size);
    const mean = kernel.reduce((s, x) => s + x, 0) / kernel.length;
    const std = Math.sqrt(kernel.reduce((s, x) => s + (x - mean) ** 2, 0) / kernel.length);
    expect(std).toBeCloseTo(1 / 784, 4);
    const b1 = spec[1]!;
    expect(a.subarray(b1.offset, b1.offset + b1.size).every((x) => x === 0)).toBe(true);
    expect(snapshotSha256(initialSnapshot(spec, 'normalInvFanIn', [5, 'init', 'D']))).toBe(snapshotSha256(a));
    expect(snapshotSha256(initialSnapshot(spec, 'normalInvFanIn', [6, 'init', 'D']))).not.toBe(snapshotSha256(a));
  });

  it('glorotUniform stays inside its limit', () => {
    const spec = parameterSpec(DEFAULT_MODEL.generator);
    const s = initialSnapshot(spec, 'glorotUniform', [1]);
    const w1 = spec[0]!;
    const limit = Math.sqrt(6 / (w1.fanIn + w1.fanOut));
    const k = s.subarray(0, w1.size);
    expect(Math.max(...k)).toBeLessThanOrEqual(limit);
    expect(Math.min(...k)).toBeGreaterThanOrEqual(-limit);
    expect(Math.max(...k)).toBeGreaterThan(0.9 * limit);
  });
});

describe('Mlp', () => {
  it('round-trips snapshots through its variables exactly and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const net = new Mlp('D', SEED_MODEL.discriminator);
    const snap = initialSnapshot(net.spec, 'normalInvFanIn', [1]);
    net.load(snap);
    expect(snapshotSha256(net.snapshot())).toBe(snapshotSha256(snap));
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('computes the tutorial forward pass: tanh hidden layer, sigmoid output', () => {
    const net = new Mlp('G', { inputSize: 2, layers: [{ units: 2, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }] });
    // w1 = [[1,2],[3,4]], b1 = [0.5,-0.5], w2 = [[1],[-1]], b2 = [0.25]
    net.load(Float32Array.of(1, 2, 3, 4, 0.5, -0.5, 1, -1, 0.25));
    const out = tf.tidy(() => net.apply(tf.tensor2d([[0.1, 0.2]])).dataSync());
    const h = [Math.tanh(0.1 + 0.6 + 0.5), Math.tanh(0.2 + 0.8 - 0.5)];
    expect(out[0]).toBeCloseTo(1 / (1 + Math.exp(-(h[0]! - h[1]! + 0.25))), 6);
    expect(() => net.load(new Float32Array(3))).toThrow(/expected 9/);
    net.dispose();
  });
});

describe('fillNoise and configHash', () => {
  it('draws row i the same whether alone or inside a larger block', () => {
    const stream = randomStream(1, 'noise');
    const block = fillNoise(SEED_MODEL.noise, stream, 0, 8);
    const row5 = fillNoise(SEED_MODEL.noise, stream, 5, 1);
    expect(Array.from(row5)).toEqual(Array.from(block.subarray(5 * 200, 6 * 200)));
    expect(Math.max(...block)).toBeLessThan(10);
    expect(Math.min(...block)).toBeGreaterThanOrEqual(0);
  });

  it('hashes configs independently of key order', () => {
    expect(configHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(configHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(configHash(SEED_MODEL)).not.toBe(configHash(DEFAULT_MODEL));
  });
});

describe('dense layer gradient (explicit transposes)', () => {
  it('equals tfjs autodiff of matMul + bias for weights, bias and input', () => {
    const net = new Mlp('T', { inputSize: 5, layers: [{ units: 4, activation: 'tanh' }, { units: 3, activation: 'linear' }] });
    net.load(initialSnapshot(net.spec, 'glorotUniform', [3]));
    const x = tf.tensor2d(randomStream(4, 'x').fillNormal(new Float32Array(6 * 5), 0), [6, 5]);
    const ours = tf.grads((input: tf.Tensor) => tf.sum(tf.square(net.apply(input as tf.Tensor2D, true))));
    const plain = tf.grads((input: tf.Tensor) => {
      const [w1, b1, w2, b2] = net.variables;
      const h = tf.tanh(tf.add(tf.matMul(input as tf.Tensor2D, w1 as tf.Tensor2D), b1!));
      return tf.sum(tf.square(tf.add(tf.matMul(h, w2 as tf.Tensor2D), b2!)));
    });
    const [dxOurs] = ours([x]);
    const [dxPlain] = plain([x]);
    const a = dxOurs!.dataSync();
    const b = dxPlain!.dataSync();
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
    const vg = (f: () => tf.Scalar) => tf.variableGrads(f, net.variables as tf.Variable[]).grads;
    const gOurs = vg(() => tf.sum(tf.square(net.apply(x))) as tf.Scalar);
    const gPlain = vg(() => {
      const [w1, b1, w2, b2] = net.variables;
      const h = tf.tanh(tf.add(tf.matMul(x, w1 as tf.Tensor2D), b1!));
      return tf.sum(tf.square(tf.add(tf.matMul(h, w2 as tf.Tensor2D), b2!))) as tf.Scalar;
    });
    for (const v of net.variables) {
      const o = gOurs[v.name]!.dataSync();
      const p = gPlain[v.name]!.dataSync();
      o.forEach((value, i) => expect(value).toBeCloseTo(p[i]!, 5));
    }
    net.dispose();
  });
});
