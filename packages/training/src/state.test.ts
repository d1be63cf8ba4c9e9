import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { emaDecayAt, makeRunConfig, TrainingState, validateRunConfig } from './index.js';

beforeAll(async () => {
  await selectBackend();
});

describe("G's moving average", () => {
  it('follows G with the warm-up decay, in float32, and only when the config keeps one', () => {
    const tiny = makeRunConfig('tiny');
    // 15 hidden units: 12,679 parameters, so the average's four-at-a-time loop has a tail of 3.
    const generator = { ...tiny.model.generator, layers: [{ units: 15, activation: 'tanh' as const }, tiny.model.generator.layers[1]!] };
    const config = { ...tiny, model: { ...tiny.model, generator } };
    expect(config.gEmaDecay).toBe(0.9);
    const state = new TrainingState(config);
    expect(state.gWeights.length % 4).toBe(3);
    const expected = Float32Array.from(state.gWeights);
    for (let t = 1; t <= 4; t++) {
      state.apply(
        'G',
        Float64Array.from(state.gWeights, (_, i) => Math.sin(i + t)),
        1,
      );
      const decay = emaDecayAt(0.9, t);
      for (let i = 0; i < expected.length; i++) expected[i] = decay * expected[i]! + (1 - decay) * state.gWeights[i]!;
    }
    expect(emaDecayAt(0.9, 1)).toBeCloseTo(2 / 11, 12);
    expect(emaDecayAt(0.9, 1000)).toBe(0.9);
    // A warm-up constant of 2, counting updates from 0, makes it the plain mean of the start and every value.
    let mean = 0;
    for (let t = 0; t < 50; t++) mean = emaDecayAt(0.9999, t, 2) * mean + (1 - emaDecayAt(0.9999, t, 2)) * (t + 1);
    expect(mean).toBeCloseTo(1275 / 51, 9);
    expect(state.gEma).toEqual(expected);
    expect(state.sampleWeights()).toBe(state.gEma);
    expect(state.gEma).not.toEqual(state.gWeights);

    const plain = new TrainingState(makeRunConfig('seed'));
    expect(plain.gEma).toBeNull();
    expect(plain.sampleWeights()).toBe(plain.gWeights);
    expect(plain.hashes().gEmaSha256).toBeNull();
    expect(() => new TrainingState(config, { ...state.data(), gEma: null })).toThrow(/lacks a G moving average but the config keeps one/);
    expect(() => validateRunConfig({ ...config, gEmaDecay: 1 })).toThrow(/gEmaDecay must be null or in \[0, 1\), got 1/);
  });
});
