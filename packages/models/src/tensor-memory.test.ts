import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { valuesView } from './index.js';

beforeAll(async () => {
  await selectBackend(); // DISTGAN_BACKEND, else auto: the backend users get
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
