import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { MnistFormatError } from './errors.js';

export const IMAGES_MAGIC = 2051;
export const LABELS_MAGIC = 2049;

export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** count*rows*cols bytes, row-major, 0 = background. */
  readonly pixels: Uint8Array;
}

export interface IdxLabels {
  readonly count: number;
  readonly labels: Uint8Array;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Reads a file and gunzips it when it starts with the gzip magic (whatever its name says). */
export function readMaybeGzip(file: string): Uint8Array {
  const raw = readFileSync(file);
  if (raw.length >= 2 && raw[0] === GZIP_MAGIC_0 && raw[1] === GZIP_MAGIC_1) {
    try {
      return gunzipSync(raw);
    } catch (err) {
      throw new MnistFormatError('MNIST_BAD_GZIP', file, `gzip data is corrupt (${(err as Error).message})`);
    }
  }
  return raw;
}

function header(bytes: Uint8Array, file: string, words: number, expectedMagic: number, kind: string): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The magic is checked first: a labels file passed as images should say so, not "truncated".
  if (bytes.length >= 4 && view.getUint32(0, false) !== expectedMagic) {
    throw new MnistFormatError(
      'MNIST_BAD_MAGIC',
      file,
      `magic number is ${view.getUint32(0, false)}, expected ${expectedMagic} for IDX ${kind} (is this the right file?)`,
    );
  }
  if (bytes.length < 4 * words) {
    throw new MnistFormatError('MNIST_TRUNCATED', file, `file is ${bytes.length} bytes, shorter than the ${4 * words}-byte IDX ${kind} header`);
  }
  return Array.from({ length: words }, (_, i) => view.getUint32(4 * i, false));
}

function body(bytes: Uint8Array, file: string, offset: number, expected: number, what: string): Uint8Array {
  const actual = bytes.length - offset;
  if (actual < expected) {
    throw new MnistFormatError('MNIST_TRUNCATED', file, `header promises ${what} (${expected} bytes) but only ${actual} bytes follow: the file is truncated`);
  }
  if (actual > expected) {
    throw new MnistFormatError('MNIST_SIZE_MISMATCH', file, `header promises ${what} (${expected} bytes) but ${actual} bytes follow`);
  }
  return bytes.subarray(offset);
}

/** Parses an IDX3 image file (magic 2051, big-endian count/rows/cols). */
export function parseIdxImages(bytes: Uint8Array, file = '<buffer>'): IdxImages {
  const [, count = 0, rows = 0, cols = 0] = header(bytes, file, 4, IMAGES_MAGIC, 'images');
  const pixels = body(bytes, file, 16, count * rows * cols, `${count} images of ${rows}x${cols}`);
  return { count, rows, cols, pixels };
}

/** Parses an IDX1 label file (magic 2049, big-endian count). */
export function parseIdxLabels(bytes: Uint8Array, file = '<buffer>'): IdxLabels {
  const [, count = 0] = header(bytes, file, 2, LABELS_MAGIC, 'labels');
  const labels = body(bytes, file, 8, count, `${count} labels`);
  return { count, labels };
}

/** Encodes an IDX3 image file; used by tests and tools that write small datasets. */
export function encodeIdxImages(images: IdxImages): Uint8Array {
  const out = new Uint8Array(16 + images.pixels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, IMAGES_MAGIC);
  view.setUint32(4, images.count);
  view.setUint32(8, images.rows);
  view.setUint32(12, images.cols);
  out.set(images.pixels, 16);
  return out;
}

/** Encodes an IDX1 label file. */
export function encodeIdxLabels(labels: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + labels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, LABELS_MAGIC);
  view.setUint32(4, labels.length);
  out.set(labels, 8);
  return out;
}
