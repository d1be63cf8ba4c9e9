import { setFlagsFromString } from 'node:v8';

/**
 * How far above the live heap V8 lets the old generation grow before a full collection, in
 * percent, for the coordinator and worker processes (`relaxHeapGrowth`).
 */
export const HEAP_GROWING_PERCENT = 400;

/**
 * Lets the JavaScript heap grow to 5x its live size between full collections. The coordinator
 * and workers hold a ~21 MB heap but turn over megabytes of frames every phase (snapshots,
 * gradients, socket reads); with V8's default growth the coordinator ran a full mark-compact 1.5
 * times per step of the `default` preset (222 in 150 steps, `node --trace-gc`), each a pause of 2
 * to 11 ms on the path between phases; with this, 19. The cost is memory: at most about 4x the
 * live heap (~80 MB) more. V8 reads the flag whenever it sizes the heap, so setting it at
 * startup, after the VM began, takes effect (checked with --trace-gc).
 */
export function relaxHeapGrowth(percent = HEAP_GROWING_PERCENT): void {
  if (!(Number.isInteger(percent) && percent > 0)) throw new RangeError(`heap growing percent must be a positive integer, got ${percent}`);
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
