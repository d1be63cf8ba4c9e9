import * as tf from '@tensorflow/tfjs';
import { randomStream } from '@distgan/rng';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { initialSnapshot, Network } from './index.js';

beforeAll(async () => {
  await selectBackend(); // DISTGAN_BACKEND, else auto: the backend users get
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
