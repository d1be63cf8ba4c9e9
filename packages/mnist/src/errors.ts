/** Stable codes so callers (and the worker handshake) can tell failures apart without parsing text. */
export type MnistErrorCode = 'MNIST_NOT_FOUND' | 'MNIST_TRUNCATED' | 'MNIST_BAD_MAGIC' | 'MNIST_SIZE_MISMATCH' | 'MNIST_BAD_GZIP' | 'MNIST_EMPTY';

export class MnistFormatError extends Error {
  override readonly name = 'MnistFormatError';
  constructor(
    readonly code: MnistErrorCode,
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}
