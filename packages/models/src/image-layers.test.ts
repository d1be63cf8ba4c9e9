import * as tf from '@tensorflow/tfjs';
import { randomStream } from '@distgan/rng';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MODEL,
  initialSnapshot,
  layerShapes,
  Network,
  parameterCount,
  parameterSpec,
  validateModelConfig,
  type GanModelConfig,
  type Layer,
  type NetworkConfig,
} from './index.js';

beforeAll(async () => {
  await selectBackend(); // DISTGAN_BACKEND, else auto: the backend users get
});

const IMAGE_NET: NetworkConfig = {
  inputSize: 16,
  layers: [
    { kind: 'reshape', shape: [4, 4, 1] },
    { kind: 'conv', filters: 3, kernel: 3, activation: 'leakyRelu' },
    { kind: 'upsample' },
    { kind: 'conv', filters: 2, kernel: 3, activation: 'tanh' },
    { kind: 'avgPool' },
    { kind: 'flatten' },
    { kind: 'dense', units: 1, activation: 'linear' },
  ],
};

describe('image layers', () => {
  it('infers shapes and lays out conv kernels as [k, k, in, out] with window-scaled fans', () => {
    expect(layerShapes(IMAGE_NET)).toEqual([[4, 4, 1], [4, 4, 3], [8, 8, 3], [8, 8, 2], [4, 4, 2], [32], [1]]);
    const spec = parameterSpec(IMAGE_NET);
    expect(spec.map((p) => `${p.name}:${p.shape.join('x')}`)).toEqual(['w1:3x3x1x3', 'b1:3', 'w2:3x3x3x2', 'b2:2', 'w3:32x1', 'b3:1']);
    expect(spec[2]).toMatchObject({ fanIn: 27, fanOut: 18, offset: 30 });
    expect(parameterCount(spec)).toBe(27 + 3 + 54 + 2 + 32 + 1);
  });

  it('names the first layer that does not fit its input', () => {
    const bad =
      (layers: NetworkConfig['layers'], inputSize = 16) =>
      () =>
        layerShapes({ inputSize, layers });
    expect(bad([{ kind: 'conv', filters: 2, kernel: 3, activation: 'relu' }])).toThrow(/layer 1 \(conv\) needs an image input/);
    expect(bad([{ kind: 'reshape', shape: [4, 4, 2] }])).toThrow(/layer 1 \(reshape\) makes \[4, 4, 2\] = 32 values from 16/);
    expect(bad([{ kind: 'reshape' } as unknown as Layer])).toThrow(/layer 1 \(reshape\) has shape undefined, not 3 positive integers/);
    expect(bad([{ kind: 'pool3d' } as unknown as Layer])).toThrow(/layer 1 has unknown kind "pool3d"/);
    expect(
      bad([
        { kind: 'reshape', shape: [4, 4, 1] },
        { kind: 'dense', units: 2, activation: 'relu' },
      ]),
    ).toThrow(/layer 2 \(dense\) needs a flat input/);
    expect(
      bad([
        { kind: 'reshape', shape: [2, 8, 1] },
        { kind: 'conv', filters: 2, kernel: 2, activation: 'relu' },
      ]),
    ).toThrow(/odd positive size/);
    expect(bad([{ kind: 'reshape', shape: [1, 16, 1] }, { kind: 'avgPool' }])).toThrow(/layer 2 \(avgPool\) needs even sides/);
    const endsInImage: GanModelConfig = {
      ...DEFAULT_MODEL,
      generator: {
        inputSize: 100,
        layers: [
          { kind: 'dense', units: 784, activation: 'tanh' },
          { kind: 'reshape', shape: [28, 28, 1] },
        ],
      },
    };
    expect(() => validateModelConfig(endsInImage)).toThrow(/generator ends in an image; add a flatten layer/);
    const wrongSize: GanModelConfig = {
      ...DEFAULT_MODEL,
      discriminator: { inputSize: 784, layers: [{ kind: 'reshape', shape: [28, 28, 1] }, { kind: 'flatten' }] },
    };
    expect(() => validateModelConfig(wrongSize)).toThrow(/discriminator must end in 1 unit/);
  });

  it('conv gradients (forward convs only) equal tfjs autodiff of conv2d for kernels, biases and input', async () => {
    // On cpu: the reference is tfjs's own conv2d gradient, which the wasm backend lacks (its absence is why ours exists).
    await selectBackend('cpu');
    const before = tf.memory().numTensors;
    const net = new Network('C', IMAGE_NET);
    net.load(initialSnapshot(net.spec, 'glorotUniform', [9]));
    const x = tf.tensor2d(randomStream(4, 'x').fillNormal(new Float32Array(5 * 16), 0), [5, 16]);
    const plainApply = (input: tf.Tensor2D) => {
      const [w1, b1, w2, b2, w3, b3] = net.variables as tf.Variable[];
      let h: tf.Tensor4D = tf.reshape(input, [5, 4, 4, 1]);
      h = tf.leakyRelu(tf.add<tf.Tensor4D>(tf.conv2d(h, w1 as tf.Tensor4D, 1, 'same'), b1!), 0.2);
      h = tf.image.resizeNearestNeighbor(h, [8, 8]);
      h = tf.tanh(tf.add<tf.Tensor4D>(tf.conv2d(h, w2 as tf.Tensor4D, 1, 'same'), b2!));
      h = tf.avgPool(h, 2, 2, 'valid');
      return tf.add(tf.matMul(tf.reshape(h, [5, 32]), w3 as tf.Tensor2D), b3!);
    };
    const compare = (ours: tf.Tensor, plain: tf.Tensor) => {
      const a = ours.dataSync();
      const b = plain.dataSync();
      expect(a.length).toBe(b.length);
      a.forEach((v, i) => {
        expect(v).toBeCloseTo(b[i]!, 5);
      });
    };
    tf.tidy(() => {
      const loss = (out: tf.Tensor) => tf.sum(tf.square(tf.sub(out, 0.3))) as tf.Scalar;
      const dx = tf.grad((input) => loss(net.apply(input as tf.Tensor2D, 'weightsAndInput')))(x);
      compare(dx, tf.grad((input) => loss(plainApply(input as tf.Tensor2D)))(x));
      expect(
        Array.from(
          tf
            .grad((input) => loss(net.apply(input as tf.Tensor2D, 'input')))(x)
            .dataSync(),
        ),
      ).toEqual(Array.from(dx.dataSync()));
      expect(() => tf.variableGrads(() => loss(net.apply(x, 'input')), net.variables as tf.Variable[])).toThrow(/Cannot find a connection/);
      const ours = tf.variableGrads(() => loss(net.apply(x)), net.variables as tf.Variable[]).grads;
      const plain = tf.variableGrads(() => loss(plainApply(x)), net.variables as tf.Variable[]).grads;
      for (const v of net.variables) compare(ours[v.name]!, plain[v.name]!);
    });
    x.dispose();
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await selectBackend();
  });
});
