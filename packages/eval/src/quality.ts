import type { MnistDataset } from '@distgan/mnist';
import { randomStream } from '@distgan/rng';
import type { MnistClassifier } from './classifier.js';
import { frechetDistance, meanAndCovariance } from './linalg.js';

const CLASSES = 10;

/** exp(E_x KL(p(y|x) || p(y))): 1 for one class or uniform noise, up to 10 for confident, balanced classes. */
export function classifierScore(probs: Float32Array, n: number): number {
  const marginal = new Float64Array(CLASSES);
  for (let r = 0; r < n; r++) for (let c = 0; c < CLASSES; c++) marginal[c]! += probs[r * CLASSES + c]! / n;
  let kl = 0;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < CLASSES; c++) {
      const p = probs[r * CLASSES + c]!;
      if (p > 0) kl += p * (Math.log(p) - Math.log(marginal[c]!));
    }
  }
  return Math.exp(kl / n);
}

/** The most probable class of each of n rows of class probabilities (the first on a tie). */
export function predictedClasses(probs: Float32Array, n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, r) => {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (probs[r * CLASSES + c]! > probs[r * CLASSES + best]!) best = c;
    return best;
  });
}

/** Predicted-class histogram and the share of the most common class (mode-collapse signal). */
export function classCoverage(probs: Float32Array, n: number): { classCounts: number[]; maxClassShare: number } {
  const counts = new Array<number>(CLASSES).fill(0);
  for (const c of predictedClasses(probs, n)) counts[c]! += 1;
  return { classCounts: counts, maxClassShare: Math.max(...counts) / Math.max(1, n) };
}

export interface QualityMetrics {
  readonly samples: number;
  readonly classifierScore: number;
  /** Frechet distance to the real test images on the classifier's penultimate features. */
  readonly frechetDistance: number;
  readonly classCounts: number[];
  readonly maxClassShare: number;
}

/** Scores batches of images against the real MNIST test split (its statistics computed once). */
export class QualityEvaluator {
  private readonly reference: { mean: Float64Array; cov: Float64Array };
  readonly featureSize: number;

  constructor(
    readonly classifier: MnistClassifier,
    readonly testSet: MnistDataset,
  ) {
    this.featureSize = classifier.config.features;
    const images = testSet.batch(Uint32Array.from({ length: testSet.count }, (_, i) => i));
    const { features } = classifier.run(images, testSet.count);
    this.reference = meanAndCovariance(features, testSet.count, this.featureSize);
  }

  /** Metrics of n images with pixels in [0, 1]. */
  evaluate(images: Float32Array, n: number): QualityMetrics {
    const { features, probs } = this.classifier.run(images, n);
    const stats = meanAndCovariance(features, n, this.featureSize);
    return {
      samples: n,
      classifierScore: classifierScore(probs, n),
      frechetDistance: frechetDistance(stats.mean, stats.cov, this.reference.mean, this.reference.cov, this.featureSize),
      ...classCoverage(probs, n),
    };
  }

  /** The reference values: classifier score of the real test images, and the train-vs-test distance. */
  evaluateReal(trainSet: MnistDataset, n: number, seed = 0): QualityMetrics & { readonly testClassifierScore: number } {
    const stream = randomStream(seed, 'eval-real');
    const indices = Uint32Array.from({ length: n }, (_, i) => stream.below(i, trainSet.count));
    const trainMetrics = this.evaluate(trainSet.batch(indices), n);
    const testImages = this.testSet.batch(Uint32Array.from({ length: Math.min(n, this.testSet.count) }, (_, i) => i));
    const { probs } = this.classifier.run(testImages, Math.min(n, this.testSet.count));
    return { ...trainMetrics, testClassifierScore: classifierScore(probs, Math.min(n, this.testSet.count)) };
  }
}

/** Maps generator outputs from their pixel range to [0, 1] in place (the classifier's input range). */
export function toUnitRange(images: Float32Array, range: { readonly min: number; readonly max: number }): Float32Array {
  const scale = 1 / (range.max - range.min);
  for (let i = 0; i < images.length; i++) images[i] = Math.min(1, Math.max(0, (images[i]! - range.min) * scale));
  return images;
}
