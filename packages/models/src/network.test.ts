import * as tf from '@tensorflow/tfjs';
import { nativeBackendRequired, selectBackend, type BackendName } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { initialSnapshot, Network, SEED_MODEL, snapshotSha256 } from './index.js';

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
