import { InvalidArgumentError } from 'commander';

/** A commander argument parser for integers in [min, max], with a message naming the bad value. */
export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}, got "${value}"` : `expected an integer in [${min}, ${max}], got "${value}"`);
    }
    return n;
  };
}
