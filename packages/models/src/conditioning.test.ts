import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  balancedClasses,
  classConditional,
  configHash,
  CONV_MODEL,
  DEFAULT_MODEL,
  generatorInput,
  imageSizeOf,
  withClassCode,
  Network,
  parameterCount,
  parameterSpec,
  validateModelConfig,
  type GradientFlow,
  type NetworkConfig,
} from './index.js';

beforeAll(async () => {
  await selectBackend(); // DISTGAN_BACKEND, else auto: the backend users get
});

describe('class conditioning', () => {
  it('widens G and D by the code and validates, naming what does not fit', () => {
    const model = classConditional(DEFAULT_MODEL, 10);
    expect([model.generator.inputSize, model.discriminator.inputSize, imageSizeOf(model)]).toEqual([110, 794, 784]);
    expect(() => validateModelConfig(model)).not.toThrow();
    expect(configHash(model)).not.toBe(configHash(DEFAULT_MODEL));
    expect(() => validateModelConfig({ ...model, generator: DEFAULT_MODEL.generator })).toThrow(/generator input 100 != noise size 100 \+ 10 classes/);
    expect(() => validateModelConfig({ ...DEFAULT_MODEL, classes: 10 })).toThrow(/generator input 100 != noise size 100 \+ 10 classes/);
    expect(() => validateModelConfig({ ...model, classes: 1 })).toThrow(/classes must be an integer in \[2, 1024\], got 1/);
    expect(() => validateModelConfig(classConditional(CONV_MODEL, 10))).toThrow(/class-conditional discriminator must start with a dense layer/);
  });

  it('gives a projection discriminator a class embedding v after the layers, and validates it', () => {
    const model = classConditional(DEFAULT_MODEL, 10, { projection: true });
    expect(() => validateModelConfig(model)).not.toThrow();
    expect(configHash(model)).not.toBe(configHash(classConditional(DEFAULT_MODEL, 10)));
    const spec = parameterSpec(model.discriminator);
    expect(spec.map((p) => p.name)).toEqual(['w1', 'b1', 'w2', 'b2', 'w3', 'b3', 'v']);
    expect(spec.at(-1)!.shape).toEqual([10, 256]);
    expect(parameterCount(spec)).toBe(parameterCount(parameterSpec(classConditional(DEFAULT_MODEL, 10).discriminator)) + 2560);
    expect(() =>
      validateModelConfig({
        ...model,
        classes: 9,
        generator: { ...model.generator, inputSize: 109 },
        discriminator: { ...model.discriminator, inputSize: 793 },
      }),
    ).toThrow(/projection has 10 classes, the model 9/);
    expect(() => validateModelConfig({ ...model, generator: { ...model.generator, projection: { classes: 10 } } })).toThrow(
      /only the discriminator can have a projection/,
    );
    const sigmoidOut = { ...model.discriminator, layers: [...model.discriminator.layers.slice(0, -1), { units: 1, activation: 'sigmoid' as const }] };
    expect(() => parameterSpec(sigmoidOut)).toThrow(/a projection needs a last dense layer of 1 linear unit/);
  });

  it('adds <y v, h> to the logit of a projection discriminator, and leaks nothing', () => {
    const d: NetworkConfig = {
      inputSize: 5,
      layers: [
        { units: 3, activation: 'relu' },
        { units: 1, activation: 'linear' },
      ],
      projection: { classes: 2 },
    };
    const net = new Network('D', d);
    const plain = new Network('D', { ...d, projection: undefined });
    const weights = Float32Array.from({ length: net.size }, (_, i) => ((i * 7) % 11) / 10 - 0.4);
    net.load(weights);
    plain.load(weights.subarray(0, plain.size));
    const before = tf.memory().numTensors;
    const x = [0.5, -1, 2, 1, 0, /* class 0 */ 1, 1, -0.5, 0, 1 /* class 1 */];
    const out = tf.tidy(() => net.apply(tf.tensor2d(x, [2, 5])).dataSync());
    const base = tf.tidy(() => plain.apply(tf.tensor2d(x, [2, 5])).dataSync());
    const hidden = tf.tidy(
      () =>
        tf
          .relu(tf.add(tf.matMul(tf.tensor2d(x, [2, 5]), tf.tensor2d(weights.subarray(0, 15), [5, 3])), tf.tensor1d(weights.subarray(15, 18))))
          .arraySync() as number[][],
    );
    const v = weights.subarray(plain.size); // [2, 3]
    for (const [row, cls] of [
      [0, 0],
      [1, 1],
    ] as const) {
      const projected = hidden[row]!.reduce((sum, h, j) => sum + h * v[cls * 3 + j]!, 0);
      expect(out[row]).toBeCloseTo(base[row]! + projected, 5);
    }
    // Held fixed (G's phase), the input gradient still flows through the projection.
    const inputGradient = (n: Network, flow: GradientFlow) =>
      tf.tidy(() =>
        Array.from(
          tf
            .grad((input) => tf.sum(tf.square(n.apply(input as tf.Tensor2D, flow))))(tf.tensor2d(x, [2, 5]))
            .dataSync(),
        ),
      );
    expect(inputGradient(net, 'input')).toEqual(inputGradient(net, 'weightsAndInput'));
    expect(inputGradient(net, 'input')).not.toEqual(inputGradient(plain, 'input'));
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
    plain.dispose();
  });

  it("appends each row's one-hot code (balanced when sampling), and leaves unconditional inputs alone", () => {
    const model = classConditional({ ...DEFAULT_MODEL, noise: { distribution: 'normal', size: 2, mean: 0, std: 1 } }, 3);
    const before = tf.memory().numTensors;
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const coded = withClassCode(model, x, Int32Array.from([2, 0]));
    expect(Array.from(coded.dataSync())).toEqual([1, 2, 0, 0, 1, 3, 4, 1, 0, 0]);
    expect(() => withClassCode(model, x, null)).toThrow(/one class per row: 2 rows, 0 classes/);
    expect(() => withClassCode(DEFAULT_MODEL, x, Int32Array.from([0, 1]))).toThrow(/class codes given to an unconditional model/);
    expect(withClassCode(DEFAULT_MODEL, x, null)).toBe(x);
    expect(Array.from(balancedClasses(model, 5, 2)!)).toEqual([2, 0, 1, 2, 0]);
    expect(balancedClasses(DEFAULT_MODEL, 5)).toBeNull();
    const input = generatorInput(model, Float32Array.from([9, 9, 8, 8]), 2, 1);
    expect(Array.from(input.dataSync())).toEqual([9, 9, 0, 1, 0, 8, 8, 0, 0, 1]);
    tf.dispose([x, coded, input]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
