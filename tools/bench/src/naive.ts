import * as tf from '@tensorflow/tfjs';

/**
 * The tutorial's training step written the plain tfjs way (docs/performance.md's "naive
 * baseline"): variables, two tf.train.adam optimizers, mean losses over the whole batch, noise and
 * batch built with tf.random, one minimize per network. Returns ms per step.
 */
export function naiveSeedSteps(steps: number, batchSize = 128): number[] {
  const xavier = (shape: [number, number]) => tf.variable(tf.randomNormal(shape, 0, 1 / shape[0]));
  const g = { w1: xavier([200, 600]), b1: tf.variable(tf.zeros([600])), w2: xavier([600, 784]), b2: tf.variable(tf.zeros([784])) };
  const d = { w1: xavier([784, 600]), b1: tf.variable(tf.zeros([600])), w2: xavier([600, 1]), b2: tf.variable(tf.zeros([1])) };
  const G = (z: tf.Tensor) => tf.sigmoid(tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(z, g.w1), g.b1)), g.w2), g.b2));
  const D = (x: tf.Tensor) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, d.w1), d.b1)), d.w2), d.b2);
  const ce = (logits: tf.Tensor, label: number) => tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, label), logits);
  const dOpt = tf.train.adam(0.001, 0.9, 0.999, 1e-8);
  const gOpt = tf.train.adam(0.001, 0.9, 0.999, 1e-8);
  const images = tf.randomUniform([2048, 784]);
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    tf.tidy(() => {
      const x = tf.gather(images, tf.randomUniform([batchSize], 0, 2048, 'int32'));
      dOpt.minimize(() => tf.add(ce(D(x), 1), ce(D(G(tf.mul(tf.randomUniform([batchSize, 200]), 10))), 0)) as tf.Scalar, false, Object.values(d));
      gOpt.minimize(() => ce(D(G(tf.mul(tf.randomUniform([batchSize, 200]), 10))), 1) as tf.Scalar, false, Object.values(g));
    });
    times.push(performance.now() - t0);
  }
  for (const v of [...Object.values(g), ...Object.values(d)]) v.dispose();
  images.dispose();
  dOpt.dispose();
  gOpt.dispose();
  return times;
}
