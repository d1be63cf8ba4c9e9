import * as tf from '@tensorflow/tfjs';
import { randomStream } from '@distgan/rng';
import { nativeBackendRequired, selectBackend, type BackendName } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  balancedClasses,
  classConditional,
  configHash,
  CONV_MODEL,
  DEFAULT_MODEL,
  dropoutWidths,
  fillDropoutMask,
  quantizedDropoutRate,
  generatorInput,
  imageSizeOf,
  withClassCode,
  fillNoise,
  initialSnapshot,
  layerShapes,
  Network,
  parameterCount,
  parameterSpec,
  SEED_MODEL,
  snapshotSha256,
  validateModelConfig,
  valuesView,
  type GanModelConfig,
  type GradientFlow,
  type Layer,
  type NetworkConfig,
} from './index.js';

beforeAll(async () => {
  await selectBackend(); // DISTGAN_BACKEND, else auto: the backend users get
});

/** Every backend that loads here: cpu and wasm always, node where tfjs-node is set up. */
async function loadableBackends(): Promise<BackendName[]> {
  const loaded: BackendName[] = [];
  for (const backend of ['cpu', 'wasm', 'node'] as const) {
    try {
      await selectBackend(backend);
      loaded.push(backend);
    } catch (err) {
      // Not set up here (tfjs-node): the other backends still run, unless node is required.
      if (backend === 'node' && nativeBackendRequired()) throw err;
    }
  }
  return loaded;
}

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

describe('Network', () => {
  it('round-trips snapshots through its variables exactly and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const net = new Network('D', SEED_MODEL.discriminator);
    const snap = initialSnapshot(net.spec, 'normalInvFanIn', [1]);
    net.load(snap);
    expect(snapshotSha256(net.snapshot())).toBe(snapshotSha256(snap));
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps what it loaded when the caller then overwrites the snapshot buffer, on every backend', async () => {
    const backends = await loadableBackends();
    try {
      for (const backend of backends) {
        await selectBackend(backend);
        const before = tf.memory().numTensors;
        const net = new Network('D', SEED_MODEL.discriminator);
        const buffer = initialSnapshot(net.spec, 'normalInvFanIn', [2]);
        const loaded = snapshotSha256(buffer);
        net.load(buffer);
        buffer.fill(7); // the next snapshot arriving in the same buffer, before the variables are read
        expect({ backend, sha: snapshotSha256(net.snapshot()) }).toEqual({ backend, sha: loaded });
        net.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
    } finally {
      await selectBackend();
    }
    expect(backends).toEqual(expect.arrayContaining(['cpu', 'wasm']));
  });

  it('computes the tutorial forward pass: tanh hidden layer, sigmoid output', () => {
    const net = new Network('G', {
      inputSize: 2,
      layers: [
        { units: 2, activation: 'tanh' },
        { units: 1, activation: 'sigmoid' },
      ],
    });
    // w1 = [[1,2],[3,4]], b1 = [0.5,-0.5], w2 = [[1],[-1]], b2 = [0.25]
    net.load(Float32Array.of(1, 2, 3, 4, 0.5, -0.5, 1, -1, 0.25));
    const out = tf.tidy(() => net.apply(tf.tensor2d([[0.1, 0.2]])).dataSync());
    const h = [Math.tanh(0.1 + 0.6 + 0.5), Math.tanh(0.2 + 0.8 - 0.5)];
    expect(out[0]).toBeCloseTo(1 / (1 + Math.exp(-(h[0]! - h[1]! + 0.25))), 6);
    expect(() => net.load(new Float32Array(3))).toThrow(/expected 9/);
    net.dispose();
  });

  it("infers with flow 'none': one row as a matrix-vector product, more rows as before, no leaks", () => {
    const before = tf.memory().numTensors;
    // 3 -> 2 linear -> 1 linear: rectangular, so a transposed product would not fit or would differ.
    const small = new Network('G', {
      inputSize: 3,
      layers: [
        { units: 2, activation: 'linear' },
        { units: 1, activation: 'linear' },
      ],
    });
    // w1 = [[1,2],[3,4],[5,6]], b1 = [0.5,-0.5], w2 = [[2],[-1]], b2 = [0.25]
    small.load(Float32Array.of(1, 2, 3, 4, 5, 6, 0.5, -0.5, 2, -1, 0.25));
    const x = [0.1, -0.2, 0.3];
    const h = [x[0]! * 1 + x[1]! * 3 + x[2]! * 5 + 0.5, x[0]! * 2 + x[1]! * 4 + x[2]! * 6 - 0.5];
    const one = tf.tidy(() => small.apply(tf.tensor2d([x]), 'none').dataSync());
    expect(one.length).toBe(1);
    expect(one[0]).toBeCloseTo(2 * h[0]! - h[1]! + 0.25, 6);
    small.dispose();

    const d = new Network('D', SEED_MODEL.discriminator, SEED_MODEL.leakyReluAlpha);
    d.load(initialSnapshot(d.spec, 'normalInvFanIn', [3]));
    const rows = tf.tidy(() => tf.randomUniform([3, 784], -1, 1, 'float32', 7) as tf.Tensor2D);
    const batched = tf.tidy(() => d.apply(rows).dataSync());
    expect(tf.tidy(() => d.apply(rows, 'none').dataSync())).toEqual(batched);
    const single = tf.tidy(() => d.apply(tf.slice(rows, [0, 0], [1, 784]), 'none').dataSync());
    expect(single[0]).toBeCloseTo(batched[0]!, 5);
    rows.dispose();
    d.dispose();
    expect(tf.memory().numTensors).toBe(before);
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

describe('valuesView', () => {
  it("reads a float32 tensor's values as dataSync does, and refuses other dtypes", () => {
    const values = tf.tensor1d([1.5, -2, 3e-8]);
    const ints = tf.tensor1d([1, 2], 'int32');
    expect(Array.from(valuesView(values))).toEqual(Array.from(values.dataSync()));
    expect(() => valuesView(ints)).toThrow(/reads float32 tensors, got int32/);
    tf.dispose([values, ints]);
  });
});

describe('dense layer gradient (explicit transposes)', () => {
  it('equals tfjs autodiff of matMul + bias for weights, bias and input', () => {
    const net = new Network('T', {
      inputSize: 5,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 3, activation: 'linear' },
      ],
    });
    net.load(initialSnapshot(net.spec, 'glorotUniform', [3]));
    const x = tf.tensor2d(randomStream(4, 'x').fillNormal(new Float32Array(6 * 5), 0), [6, 5]);
    const ours = tf.grads((input: tf.Tensor) => tf.sum(tf.square(net.apply(input as tf.Tensor2D, 'weightsAndInput'))));
    const frozen = tf.grads((input: tf.Tensor) => tf.sum(tf.square(net.apply(input as tf.Tensor2D, 'input'))));
    const plain = tf.grads((input: tf.Tensor) => {
      const [w1, b1, w2, b2] = net.variables;
      const h = tf.tanh(tf.add(tf.matMul(input as tf.Tensor2D, w1 as tf.Tensor2D), b1!));
      return tf.sum(tf.square(tf.add(tf.matMul(h, w2 as tf.Tensor2D), b2!)));
    });
    const [dxOurs] = ours([x]);
    const [dxPlain] = plain([x]);
    const [dxFrozen] = frozen([x]);
    const a = dxOurs!.dataSync();
    const b = dxPlain!.dataSync();
    a.forEach((v, i) => {
      expect(v).toBeCloseTo(b[i]!, 5);
    });
    // Held fixed, the layers give the same input gradient, bit for bit, and none for their weights.
    expect(Array.from(dxFrozen!.dataSync())).toEqual(Array.from(a));
    expect(() => tf.variableGrads(() => tf.sum(net.apply(x, 'input')) as tf.Scalar, net.variables as tf.Variable[])).toThrow(
      /Cannot find a connection between any variable and the result of the loss function/,
    );
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
      o.forEach((value, i) => {
        expect(value).toBeCloseTo(p[i]!, 5);
      });
    }
    net.dispose();
  });
});

/** A small image network using every layer kind: 16 -> [4,4,1] -> conv -> up -> conv -> pool -> flatten -> 1. */
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
