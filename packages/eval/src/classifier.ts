import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { MnistDataset } from '@distgan/mnist';
import { configHash } from '@distgan/models';
import { randomStream } from '@distgan/rng';

export interface ClassifierConfig {
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly features: number;
}

export const DEFAULT_CLASSIFIER: ClassifierConfig = { seed: 1, epochs: 3, batchSize: 64, learningRate: 0.002, features: 64 };

const SIDE = 28;
const CLASSES = 10;
const C1 = 16;
const C2 = 32;

/** Parameter shapes, in file order. */
function parameterShapes(config: ClassifierConfig): [string, number[]][] {
  return [
    ['conv1/w', [9, C1]],
    ['conv1/b', [C1]],
    ['conv2/w', [9 * C1, C2]],
    ['conv2/b', [C2]],
    ['features/w', [5 * 5 * C2, config.features]],
    ['features/b', [config.features]],
    ['probs/w', [config.features, CLASSES]],
    ['probs/b', [CLASSES]],
  ];
}

/**
 * A valid, stride-1 conv2d whose filter gradient is itself a conv2d (batch as channels): the wasm
 * backend has fast conv2d and input-gradient kernels but no Conv2DBackpropFilter kernel.
 */
const conv2dValid = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x4, w4, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
  save([x4, w4]);
  return {
    value: tf.conv2d(x4, w4, 1, 'valid'),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
      const d = dy as tf.Tensor4D;
      const dx = tf.conv2dTranspose(d, sw, sx.shape, 1, 'valid') as tf.Tensor4D;
      // dW[ky,kx,ci,co] = sum over n,y,x of x[n,y+ky,x+kx,ci] * dy[n,y,x,co]
      const dw = tf.transpose(tf.conv2d(tf.transpose(sx, [3, 1, 2, 0]) as tf.Tensor4D, tf.transpose(d, [1, 2, 0, 3]) as tf.Tensor4D, 1, 'valid'), [1, 2, 0, 3]);
      return [dx, dw];
    },
  };
}) as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;

/** conv 3x3x16 -> max-pool -> conv 3x3x32 -> max-pool -> dense `features` -> softmax 10. */
function forward(params: readonly tf.Tensor[], images: tf.Tensor2D): { features: tf.Tensor2D; logits: tf.Tensor2D } {
  const [w1, b1, w2, b2, w3, b3, w4, b4] = params as [tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D];
  const n = images.shape[0];
  let h = tf.reshape(images, [n, SIDE, SIDE, 1]) as tf.Tensor4D;
  const block = (x: tf.Tensor4D, w: tf.Tensor2D, b: tf.Tensor1D, cin: number, cout: number) =>
    tf.maxPool(tf.relu(tf.add(conv2dValid(x, tf.reshape(w, [3, 3, cin, cout]) as tf.Tensor4D), b)) as tf.Tensor4D, 2, 2, 'valid') as tf.Tensor4D;
  h = block(h, w1, b1, 1, C1); // 28 -> 26 -> 13
  h = block(h, w2, b2, C1, C2); // 13 -> 11 -> 5
  const f = tf.relu(tf.add(tf.matMul(tf.reshape(h, [n, 5 * 5 * C2]), w3), b3)) as tf.Tensor2D;
  return { features: f, logits: tf.add(tf.matMul(f, w4), b4) as tf.Tensor2D };
}

export interface ClassifierOutputs {
  /** n x features, the penultimate layer (for the Frechet distance). */
  readonly features: Float32Array;
  /** n x 10 class probabilities. */
  readonly probs: Float32Array;
}

/** The evaluation classifier: a CNN trained in-process, deterministically from its seed. */
export class MnistClassifier {
  private constructor(
    /** Named variables `classifier/<param>` in `parameterShapes` order. */
    private readonly params: tf.Variable[],
    readonly config: ClassifierConfig,
    /** Accuracy on the MNIST test split, measured after training. */
    readonly testAccuracy: number,
  ) {}

  private static fromWeights(config: ClassifierConfig, weights: Float32Array[], testAccuracy: number): MnistClassifier {
    const shapes = parameterShapes(config);
    const params = tf.tidy(() =>
      shapes.map(([name, shape], i) => tf.variable(tf.tensor(weights[i]!, shape), true, `classifier_${config.seed}_${Date.now()}_${i}/${name}`)),
    );
    return new MnistClassifier(params, config, testAccuracy);
  }

  /** Trains from scratch: Glorot-uniform init and batch order from counter-based streams, no dropout. */
  static train(
    trainSet: MnistDataset,
    testSet: MnistDataset,
    config: ClassifierConfig = DEFAULT_CLASSIFIER,
    log: (m: string) => void = () => undefined,
  ): MnistClassifier {
    const init = parameterShapes(config).map(([name, shape]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      if (name.endsWith('/b')) return new Float32Array(size);
      const limit = Math.sqrt(6 / (shape[0]! + shape[1]!));
      return randomStream(config.seed, 'classifier-init', name).fillUniform(new Float32Array(size), 0, -limit, limit);
    });
    const classifier = MnistClassifier.fromWeights(config, init, 0);
    const batch = new Float32Array(config.batchSize * SIDE * SIDE);
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      // A fresh Adam at half the rate each epoch: later epochs refine instead of bouncing.
      const optimizer = tf.train.adam(config.learningRate / 2 ** epoch);
      const order = Uint32Array.from({ length: trainSet.count }, (_, i) => i);
      const stream = randomStream(config.seed, 'classifier-order', epoch);
      for (let i = order.length - 1; i > 0; i--) {
        const j = stream.below(i, i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let lossSum = 0;
      const batches = Math.floor(order.length / config.batchSize);
      for (let b = 0; b < batches; b++) {
        const indices = order.subarray(b * config.batchSize, (b + 1) * config.batchSize);
        trainSet.fillBatch(indices, batch);
        const labels = Int32Array.from(indices, (i) => trainSet.labels[i]!);
        const loss = optimizer.minimize(
          () => {
            const { logits } = forward(classifier.params, tf.tensor2d(batch, [config.batchSize, SIDE * SIDE]));
            return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES), logits);
          },
          true,
          classifier.params,
        );
        if (!loss) throw new Error('minimize returned no loss although asked for it');
        lossSum += loss.dataSync()[0]!;
        loss.dispose();
      }
      optimizer.dispose();
      log(`classifier epoch ${epoch + 1}/${config.epochs}: mean loss ${(lossSum / batches).toFixed(4)}`);
    }
    const accuracy = classifier.accuracy(testSet);
    log(`classifier test accuracy ${(100 * accuracy).toFixed(2)}%`);
    return new MnistClassifier(classifier.params, config, accuracy);
  }

  /** Features and class probabilities of images in [0, 1] (n x 784), computed in batches. */
  run(images: Float32Array, n: number, batchSize = 500): ClassifierOutputs {
    const features = new Float32Array(n * this.config.features);
    const probs = new Float32Array(n * CLASSES);
    for (let start = 0; start < n; start += batchSize) {
      const rows = Math.min(batchSize, n - start);
      tf.tidy(() => {
        const out = forward(this.params, tf.tensor2d(images.subarray(start * SIDE * SIDE, (start + rows) * SIDE * SIDE), [rows, SIDE * SIDE]));
        features.set(out.features.dataSync(), start * this.config.features);
        probs.set(tf.softmax(out.logits).dataSync(), start * CLASSES);
      });
    }
    return { features, probs };
  }

  accuracy(testSet: MnistDataset): number {
    const images = testSet.batch(Uint32Array.from({ length: testSet.count }, (_, i) => i));
    const { probs } = this.run(images, testSet.count);
    let correct = 0;
    for (let r = 0; r < testSet.count; r++) {
      let best = 0;
      for (let c = 1; c < CLASSES; c++) if (probs[r * CLASSES + c]! > probs[r * CLASSES + best]!) best = c;
      if (best === testSet.labels[r]) correct++;
    }
    return correct / testSet.count;
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
  }

  /** Saves `weights.bin` (float32 parameters in order) and `classifier.json`, atomically by folder rename. */
  save(dir: string): void {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const parts = this.params.map((p) => new Uint8Array((p.dataSync() as Float32Array).buffer.slice(0)));
    writeFileSync(join(tmp, 'weights.bin'), Buffer.concat(parts));
    writeFileSync(
      join(tmp, 'classifier.json'),
      JSON.stringify({ config: this.config, testAccuracy: this.testAccuracy, parameters: parameterShapes(this.config) }, null, 2),
    );
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }

  static load(dir: string): MnistClassifier {
    const meta = JSON.parse(readFileSync(join(dir, 'classifier.json'), 'utf8')) as { config: ClassifierConfig; testAccuracy: number };
    const bytes = readFileSync(join(dir, 'weights.bin'));
    const shapes = parameterShapes(meta.config);
    const total = shapes.reduce((n, [, shape]) => n + shape.reduce((a, b) => a * b, 1), 0);
    if (bytes.length !== 4 * total) throw new Error(`${dir}/weights.bin is ${bytes.length} bytes, expected ${4 * total}`);
    const all = new Float32Array(new Uint8Array(bytes).buffer);
    let offset = 0;
    const weights = shapes.map(([, shape]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const w = all.subarray(offset, offset + size);
      offset += size;
      return w;
    });
    return MnistClassifier.fromWeights(meta.config, weights, meta.testAccuracy);
  }
}

/** `$DISTGAN_CACHE_DIR`, else `$XDG_CACHE_HOME/distgan`, else `~/.cache/distgan`. */
export function defaultCacheDir(): string {
  return process.env.DISTGAN_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'distgan');
}

export interface LoadClassifierOptions {
  readonly trainSet: MnistDataset;
  readonly testSet: MnistDataset;
  readonly config?: ClassifierConfig;
  readonly cacheDir?: string | undefined;
  readonly log?: (message: string) => void;
}

/** The cached classifier for this config and data, training (and caching) it the first time. */
export async function loadOrTrainClassifier(options: LoadClassifierOptions): Promise<{ classifier: MnistClassifier; dir: string; trained: boolean }> {
  const config = options.config ?? DEFAULT_CLASSIFIER;
  const key = configHash({ config, train: options.trainSet.fingerprint, test: options.testSet.fingerprint, version: 1 }).slice(0, 16);
  const dir = join(options.cacheDir ?? defaultCacheDir(), `classifier-${key}`);
  const log = options.log ?? (() => undefined);
  if (existsSync(join(dir, 'classifier.json'))) {
    try {
      return { classifier: MnistClassifier.load(dir), dir, trained: false };
    } catch (err) {
      log(`cached classifier at ${dir} is unreadable (${(err as Error).message}); training a new one`);
    }
  }
  log(`training the evaluation classifier (cached afterwards in ${dir})`);
  const classifier = MnistClassifier.train(options.trainSet, options.testSet, config, log);
  mkdirSync(join(dir, '..'), { recursive: true });
  classifier.save(dir);
  return { classifier, dir, trained: true };
}
