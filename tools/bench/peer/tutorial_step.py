"""The tutorial's training step in TensorFlow graph mode (tf.compat.v1), timed: the peer that
`npm run bench` compares distgan's step with. Same model, losses, optimizers and batch as the
`seed` preset (DESIGN.md section 2); images are uniform noise in [0, 1], since the step's cost
does not depend on their values.

usage: python tutorial_step.py BATCH STEPS WARMUP    prints {"batchSize", "msPerStep", "tensorflow"}
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf1 = tf.compat.v1
tf1.disable_eager_execution()


def xavier(shape):
    return tf1.random_normal(shape=shape, stddev=1.0 / shape[0])


def main(batch: int, steps: int, warmup: int) -> None:
    z_size, hidden, pixels = 200, 600, 784
    g = {"w1": tf1.Variable(xavier((z_size, hidden))), "b1": tf1.Variable(tf1.zeros([hidden])),
         "out": tf1.Variable(xavier((hidden, pixels))), "b2": tf1.Variable(tf1.zeros([pixels]))}
    d = {"w1": tf1.Variable(xavier((pixels, hidden))), "b1": tf1.Variable(tf1.zeros([hidden])),
         "out": tf1.Variable(xavier((hidden, 1))), "b2": tf1.Variable(tf1.zeros([1]))}

    def G(z):
        return tf1.sigmoid(tf1.matmul(tf1.tanh(tf1.matmul(z, g["w1"]) + g["b1"]), g["out"]) + g["b2"])

    def D(x):
        return tf1.matmul(tf1.tanh(tf1.matmul(x, d["w1"]) + d["b1"]), d["out"]) + d["b2"]

    x = tf1.placeholder(tf1.float32, [None, pixels])
    z = tf1.placeholder(tf1.float32, [None, z_size])
    real, fake = D(x), D(G(z))
    ce = tf1.nn.sigmoid_cross_entropy_with_logits
    g_obj = tf1.reduce_mean(ce(logits=fake, labels=tf1.ones_like(fake)))
    d_obj = tf1.reduce_mean(ce(logits=real, labels=tf1.ones_like(real))) + tf1.reduce_mean(ce(logits=fake, labels=tf1.zeros_like(fake)))
    d_opt = tf1.train.AdamOptimizer().minimize(d_obj, var_list=list(d.values()))
    g_opt = tf1.train.AdamOptimizer().minimize(g_obj, var_list=list(g.values()))
    rng = np.random.default_rng(0)
    images = rng.random((2048, pixels), dtype=np.float32)
    times = []
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        for step in range(warmup + steps):
            started = time.perf_counter()
            batch_x = images[rng.integers(0, len(images), batch)]
            sess.run([d_opt, d_obj], feed_dict={x: batch_x, z: rng.random((batch, z_size), dtype=np.float32) * 10})
            sess.run([g_opt, g_obj], feed_dict={z: rng.random((batch, z_size), dtype=np.float32) * 10})
            if step >= warmup:
                times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(json.dumps({"batchSize": batch, "msPerStep": times[len(times) // 2], "tensorflow": tf.__version__}))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
