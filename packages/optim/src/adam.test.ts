import * as tf from '@tensorflow/tfjs';
import { randomStream } from '@distgan/rng';
import { describe, expect, it } from 'vitest';
import { Adam, decodeAdamState, encodeAdamState, MAX_MEAN_GRADIENT, shardGradientBound, TF1_ADAM_DEFAULTS, validateAdamConfig } from './index.js';
import { instantiateSimdAdam } from './simd-kernel.js';

const SIZE = 257;

function gradientAt(step: number): Float32Array {
  return randomStream(9, 'grad', step).fillNormal(new Float32Array(SIZE), 0, 0, 1);
}

describe('Adam (TF1 rule)', () => {
  it('does the TF1 first step by hand: w -= lr * g / (|g| + eps*sqrt(1-b2))', () => {
    const w = Float32Array.of(1, -2);
    const adam = new Adam(2);
    adam.apply(w, [0.5, -4]);
    // t=1: m = 0.1 g, v = 0.001 g^2, lr_t = lr*sqrt(0.001)/0.1, update = lr_t*m/(sqrt(v)+eps) ~ lr*sign(g)
    const expected = (g: number) => (((0.001 * Math.sqrt(0.001)) / 0.1) * (0.1 * g)) / (Math.sqrt(0.001 * g * g) + 1e-8);
    expect(w[0]).toBe(Math.fround(1 - expected(0.5)));
    expect(w[1]).toBe(Math.fround(-2 - expected(-4)));
    expect(adam.step).toBe(1);
  });

  it.each(['wasm-simd', 'js'] as const)(
    'keeps its exact arithmetic with the %s kernel: float64 per parameter, moments and weights rounded to float32 on store (checkpoints and hashes depend on it)',
    (kernel) => {
      const config = { learningRate: 1e-3, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 };
      const weights = randomStream(9, 'w').fillNormal(new Float32Array(SIZE), 0);
      const expected = Float32Array.from(weights);
      const m = new Float32Array(SIZE);
      const v = new Float32Array(SIZE);
      const adam = new Adam(SIZE, config, undefined, { kernel });
      // Node 20 has WebAssembly SIMD: asking for it (the default) must not fall back silently.
      expect(adam.kernel).toBe(kernel);
      for (let t = 1; t <= 5; t++) {
        // A float64 sum, divided by the batch size inside apply, as the coordinator passes it.
        const sum = Float64Array.from(gradientAt(t), (g, i) => g * 37 + i * 1e-9);
        adam.apply(weights, sum, 128);
        const lrT = (config.learningRate * Math.sqrt(1 - config.beta2 ** t)) / (1 - config.beta1 ** t);
        for (let i = 0; i < SIZE; i++) {
          const g = sum[i]! / 128;
          m[i] = config.beta1 * m[i]! + (1 - config.beta1) * g;
          v[i] = config.beta2 * v[i]! + (1 - config.beta2) * g * g;
          expected[i] = expected[i]! - (lrT * m[i]!) / (Math.sqrt(v[i]!) + config.epsilon);
        }
      }
      expect(Buffer.from(weights.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      const state = adam.state();
      expect(Buffer.from(state.m.buffer).equals(Buffer.from(m.buffer)) && Buffer.from(state.v.buffer).equals(Buffer.from(v.buffer))).toBe(true);
    },
  );

  it('gives the same bits with either kernel, in place or through copies, across magnitudes from subnormal to huge', () => {
    const size = 4097; // odd: the SIMD kernel's last parameter goes through the JavaScript loop
    const config = { learningRate: 2e-3, beta1: 0.5, beta2: 0.99, epsilon: 1e-8 };
    const start = randomStream(3, 'w').fillNormal(new Float32Array(size), 0);
    const simd = new Adam(size, config);
    const js = new Adam(size, config, undefined, { kernel: 'js' });
    const copied = Float32Array.from(start);
    const plain = Float32Array.from(start);
    simd.weightBuffer.set(start);
    for (let t = 0; t < 6; t++) {
      const unit = randomStream(3, 'g', t).fillNormal(new Float32Array(size), 0);
      // Sums spanning 1e-45 to 1e30 (so v's float32 rounding goes subnormal and huge), with exact zeros and -0.
      const sum = Float64Array.from(unit, (g, i) => (i % 97 === 0 ? (i % 2 ? -0 : 0) : g * 10 ** ((i % 76) - 45)));
      simd.gradientBuffer.set(sum);
      simd.apply(simd.weightBuffer, simd.gradientBuffer, 128);
      const viaCopies = new Adam(size, config, { step: js.step, m: js.state().m, v: js.state().v });
      viaCopies.apply(copied, sum, 128);
      js.apply(plain, sum, 128);
      expect(Buffer.from(copied.buffer).equals(Buffer.from(plain.buffer))).toBe(true);
    }
    const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const differing = simd.weightBuffer.reduce((n, w, i) => n + (Object.is(w, plain[i]) ? 0 : 1), 0);
    expect(differing).toBe(0);
    const [a, b] = [simd.state(), js.state()];
    expect(bits(a.m).equals(bits(b.m)) && bits(a.v).equals(bits(b.v))).toBe(true);
    // The weights really moved, and some moments went subnormal (the range this test is about).
    expect(plain.some((w, i) => w !== start[i])).toBe(true);
    expect(b.v.some((x) => x > 0 && x < 1.1754943508222875e-38)).toBe(true);
  });

  it('leaves a network too large for 32-bit WebAssembly memory to the JavaScript loop', () => {
    expect(instantiateSimdAdam(20 * 1000)).not.toBeNull();
    expect(instantiateSimdAdam(2 ** 32 + 1)).toBeNull(); // one byte past 4 GiB: refused before allocating anything
  });

  it('tracks tf.train.adam over 100 steps on the same gradients (max |diff| < 1e-6)', () => {
    const init = randomStream(9, 'w').fillNormal(new Float32Array(SIZE), 0);
    const ours = Float32Array.from(init);
    const adam = new Adam(SIZE, TF1_ADAM_DEFAULTS);
    const before = tf.memory().numTensors;
    const variable = tf.tidy(() => tf.variable(tf.tensor1d(init)));
    const opt = tf.train.adam(TF1_ADAM_DEFAULTS.learningRate, TF1_ADAM_DEFAULTS.beta1, TF1_ADAM_DEFAULTS.beta2, TF1_ADAM_DEFAULTS.epsilon);
    for (let step = 0; step < 100; step++) {
      const g = gradientAt(step);
      adam.apply(ours, g);
      tf.tidy(() => opt.applyGradients([{ name: variable.name, tensor: tf.tensor1d(g) }]));
    }
    const theirs = variable.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < SIZE; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - theirs[i]!));
    // tfjs adds epsilon after bias-correcting v (TF1 before) and rounds every op to float32; with
    // unit-scale gradients that stays below 1e-6. (Seen here: when some steps' gradients are 1000x
    // smaller the two drift apart by up to 2e-4 over 100 steps; TF1's rule is what we follow.)
    expect(maxDiff).toBeLessThan(1e-6);
    // ...while the weights really moved (about lr per step)
    expect(Math.max(...ours.map((w, i) => Math.abs(w - init[i]!)))).toBeGreaterThan(1e-2);
    variable.dispose();
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('without momentum (beta1 0), steps by g / (sqrt(v_hat) + eps); negative momentum keeps an oscillating bias correction finite', () => {
    const config = { learningRate: 0.01, beta1: 0, beta2: 0.999, epsilon: 1e-8 };
    const w = Float32Array.of(1);
    const adam = new Adam(1, config);
    adam.apply(w, [3]);
    adam.apply(w, [-1]);
    // t=2: v = 0.999 * 0.001 * 9 + 0.001 * 1, m = g: only this step's gradient sets the direction.
    const v = 0.999 * 0.001 * 9 + 0.001;
    const first = Math.fround(1 - (0.01 * Math.sqrt(0.001) * 3) / (Math.sqrt(0.001 * 9) + 1e-8));
    expect(w[0]).toBe(Math.fround(first + (0.01 * Math.sqrt(1 - 0.999 ** 2) * 1) / (Math.sqrt(v) + 1e-8)));
    const negative = new Adam(SIZE, { ...config, beta1: -0.5 });
    const weights = new Float32Array(SIZE);
    for (let s = 0; s < 50; s++) negative.apply(weights, gradientAt(s));
    expect(weights.every(Number.isFinite)).toBe(true);
  });

  it('rejects configs outside its ranges with one message', () => {
    expect(() => new Adam(1, { learningRate: 0, beta1: 1, beta2: 1, epsilon: 0 })).toThrow(
      'Adam: learning rate must be positive, got 0; beta1 must be in (-1, 1), got 1; beta2 must be in [0, 1), got 1; epsilon must be positive, got 0',
    );
    expect(() => validateAdamConfig({ ...TF1_ADAM_DEFAULTS, beta1: Number.NaN }, "D's Adam")).toThrow(/^D's Adam: beta1 must be in \(-1, 1\), got NaN$/);
    expect(() => validateAdamConfig({ ...TF1_ADAM_DEFAULTS, beta1: -0.5 })).not.toThrow();
  });

  it('resumes bit-identically from serialised state', () => {
    const straight = randomStream(1, 'w').fillNormal(new Float32Array(SIZE), 0);
    const resumed = Float32Array.from(straight);
    const a = new Adam(SIZE);
    for (let s = 0; s < 20; s++) a.apply(straight, gradientAt(s));

    let b = new Adam(SIZE);
    for (let s = 0; s < 10; s++) b.apply(resumed, gradientAt(s));
    const bytes = encodeAdamState(b.state());
    b = new Adam(SIZE, TF1_ADAM_DEFAULTS, decodeAdamState(bytes));
    for (let s = 10; s < 20; s++) b.apply(resumed, gradientAt(s));

    expect(Buffer.from(resumed.buffer).equals(Buffer.from(straight.buffer))).toBe(true);
    expect(b.step).toBe(20);
  });

  it('rejects mismatched sizes and corrupt state with a clear message', () => {
    expect(() => new Adam(3).apply(new Float32Array(3), [1, 2])).toThrow(/3 parameters got 3 weights and 2 gradients/);
    expect(() => new Adam(-1)).toThrow(/Adam size must be a non-negative integer, got -1/);
    expect(() => new Adam(2.5)).toThrow(/got 2.5/);
    const bytes = encodeAdamState(new Adam(4).state());
    expect(() => decodeAdamState(bytes.subarray(0, bytes.length - 1))).toThrow(/must be 44 bytes, got 43/);
    const bad = bytes.slice();
    bad[0] = 0;
    expect(() => decodeAdamState(bad)).toThrow(/magic/);
  });
});

describe('Adam inputs at their edges', () => {
  const state = (size: number, step = 0) => ({ step, m: new Float32Array(size), v: new Float32Array(size) });

  it('takes beta1 just above -1 and beta2 of 0, and refuses beta1 of -1', () => {
    expect(() => validateAdamConfig({ ...TF1_ADAM_DEFAULTS, beta1: -0.999999 })).not.toThrow();
    expect(() => validateAdamConfig({ ...TF1_ADAM_DEFAULTS, beta2: 0 })).not.toThrow();
    expect(() => validateAdamConfig({ ...TF1_ADAM_DEFAULTS, beta1: -1 })).toThrow('Adam: beta1 must be in (-1, 1), got -1');
    expect(() => validateAdamConfig({ ...TF1_ADAM_DEFAULTS, beta2: -0.1 })).toThrow('Adam: beta2 must be in [0, 1), got -0.1');
  });

  it('has room for no parameters at all', () => {
    const adam = new Adam(0);
    adam.apply(new Float32Array(0), []);
    expect(adam.step).toBe(1);
  });

  it.each(['wasm-simd', 'js'] as const)('refuses a state of another size or step, when constructed and when restored (%s kernel)', (kernel) => {
    for (const bad of [
      { ...state(4), m: new Float32Array(3) },
      { ...state(4), v: new Float32Array(5) },
    ]) {
      expect(() => new Adam(4, TF1_ADAM_DEFAULTS, bad, { kernel })).toThrow(`Adam state holds ${bad.m.length}/${bad.v.length} moments, expected 4`);
      expect(() => new Adam(4, TF1_ADAM_DEFAULTS, undefined, { kernel }).restore(bad)).toThrow(
        `Adam state holds ${bad.m.length}/${bad.v.length} moments, expected 4`,
      );
    }
    for (const step of [-1, 1.5, Number.NaN]) {
      expect(() => new Adam(4, TF1_ADAM_DEFAULTS, state(4, step), { kernel })).toThrow(`Adam state step ${step} is not a non-negative integer`);
      expect(() => new Adam(4, TF1_ADAM_DEFAULTS, undefined, { kernel }).restore(state(4, step))).toThrow(
        `Adam state step ${step} is not a non-negative integer`,
      );
    }
    const restored = new Adam(4, TF1_ADAM_DEFAULTS, undefined, { kernel });
    restored.restore({ step: 7, m: Float32Array.of(1, 2, 3, 4), v: Float32Array.of(5, 6, 7, 8) });
    expect(restored.step).toBe(7);
    expect(Array.from(restored.state().m)).toEqual([1, 2, 3, 4]);
    expect(() => new Adam(3, TF1_ADAM_DEFAULTS, undefined, { kernel }).apply(new Float32Array(2), [1, 2, 3])).toThrow(
      /3 parameters got 2 weights and 3 gradients/,
    );
  });

  it('decodes a state of no parameters (its 12-byte header alone) and refuses anything shorter', () => {
    const empty = encodeAdamState({ step: 3, m: new Float32Array(0), v: new Float32Array(0) });
    expect(empty.length).toBe(12);
    expect(decodeAdamState(empty).step).toBe(3);
    expect(() => decodeAdamState(empty.subarray(0, 11))).toThrow('Adam state is 11 bytes, shorter than its 12-byte header');
  });
});

describe('gradient bound', () => {
  it('keeps Adam finite at the bound: a mean gradient of MAX_MEAN_GRADIENT leaves weights and moments finite', () => {
    const adam = new Adam(2, TF1_ADAM_DEFAULTS);
    const weights = Float32Array.of(0.5, -0.5);
    for (let i = 0; i < 3; i++) adam.apply(weights, [MAX_MEAN_GRADIENT, -MAX_MEAN_GRADIENT]);
    const { m, v } = adam.state();
    expect([...weights, ...m, ...v].every(Number.isFinite)).toBe(true);
    for (let i = 0; i < 400; i++) adam.apply(weights, [MAX_MEAN_GRADIENT, -MAX_MEAN_GRADIENT]);
    expect([...adam.state().v].every(Number.isFinite)).toBe(true);
    // Four times the bound, kept up: the second moment, an average of squares, passes float32's largest.
    for (let i = 0; i < 400; i++) adam.apply(weights, [4 * MAX_MEAN_GRADIENT, 0]);
    expect(adam.state().v[0]).toBe(Number.POSITIVE_INFINITY);
  });

  it('lets K shards at the shard bound sum to a mean of at most MAX_MEAN_GRADIENT', () => {
    for (const [batch, shards] of [
      [128, 4],
      [32, 1],
      [512, 8],
    ] as const) {
      expect((shards * shardGradientBound(batch, shards)) / batch).toBeCloseTo(MAX_MEAN_GRADIENT, -10);
      expect((shards * shardGradientBound(batch, shards)) / batch).toBeLessThanOrEqual(MAX_MEAN_GRADIENT * (1 + 1e-12));
    }
  });
});
