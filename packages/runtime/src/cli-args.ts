import { InvalidArgumentError, Option } from 'commander';
import { BACKEND_CHOICES, BACKEND_ENV, defaultBackendChoice } from './backend.js';

/** A commander argument parser for integers in [min, max], with a message naming the bad value. */
export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}, got "${value}"` : `expected an integer in [${min}, ${max}], got "${value}"`,
      );
    }
    return n;
  };
}

/** The `--backend` option every distgan command shares: auto, node, wasm or cpu (default `DISTGAN_BACKEND`, else auto). */
export function backendOption(): Option {
  return new Option('--backend <name>', `TensorFlow.js backend (auto: node, else wasm, else cpu; default from ${BACKEND_ENV})`)
    .choices(BACKEND_CHOICES as string[])
    .default(defaultBackendChoice());
}
