import { instantiateSimdAdam, type SimdAdamStep } from './simd-kernel.js';

export interface AdamConfig {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

/** tf.train.AdamOptimizer()'s defaults in TensorFlow 1, as the tutorial uses them. */
export const TF1_ADAM_DEFAULTS: AdamConfig = { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/**
 * Throws one message listing what is wrong with `config`: a rate that is not positive and finite,
 * beta1 outside (-1, 1) (negative: negative momentum, Gidel et al. 2019), beta2 outside [0, 1)
 * or an epsilon that is not positive.
 */
export function validateAdamConfig(config: AdamConfig, name = 'Adam'): void {
  const problems: string[] = [];
  if (!(Number.isFinite(config.learningRate) && config.learningRate > 0)) problems.push(`learning rate must be positive, got ${config.learningRate}`);
  if (!(config.beta1 > -1 && config.beta1 < 1)) problems.push(`beta1 must be in (-1, 1), got ${config.beta1}`);
  if (!(config.beta2 >= 0 && config.beta2 < 1)) problems.push(`beta2 must be in [0, 1), got ${config.beta2}`);
  if (!(Number.isFinite(config.epsilon) && config.epsilon > 0)) problems.push(`epsilon must be positive, got ${config.epsilon}`);
  if (problems.length > 0) throw new RangeError(`${name}: ${problems.join('; ')}`);
}

/** Everything needed to continue bit-identically: step count and both moment vectors. */
export interface AdamState {
  readonly step: number;
  readonly m: Float32Array;
  readonly v: Float32Array;
}

/** Which implementation runs Adam's loop: WebAssembly SIMD where the runtime has it, else JavaScript. */
export type AdamKernel = 'wasm-simd' | 'js';

export interface AdamOptions {
  /** 'js' forces the JavaScript loop (same bits, slower); default: 'wasm-simd' where available. */
  readonly kernel?: AdamKernel;
}

/** Where the SIMD kernel keeps one instance's arrays in its own WebAssembly memory (weights at 0). */
interface SimdWorkspace {
  readonly step: SimdAdamStep;
  readonly gradientAt: number;
  readonly mAt: number;
  readonly vAt: number;
}

/**
 * Adam over a flat Float32Array with TensorFlow 1's update rule:
 *   t += 1; lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  w -= lr_t m / (sqrt(v) + eps)
 * Arithmetic is float64 rounded to float32 on store, which is deterministic in JavaScript and in
 * WebAssembly alike: both kernels give the same bits.
 *
 * With the SIMD kernel the moments live in a WebAssembly memory together with a weight array
 * (`weightBuffer`) and a float64 gradient array (`gradientBuffer`). `apply` accepts any arrays, and
 * copies only those that are not these two, so a caller that keeps its weights in `weightBuffer`
 * and sums its gradient into `gradientBuffer` (the coordinator does) steps without a copy.
 */
export class Adam {
  private t: number;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  readonly kernel: AdamKernel;
  /** Weights that `apply` updates without copying (in the SIMD kernel's memory when it runs). */
  readonly weightBuffer: Float32Array;
  /** A gradient array that `apply` reads without copying. */
  readonly gradientBuffer: Float64Array;
  private readonly simd: SimdWorkspace | null;

  constructor(
    readonly size: number,
    readonly config: AdamConfig = TF1_ADAM_DEFAULTS,
    state?: AdamState,
    options: AdamOptions = {},
  ) {
    validateAdamConfig(config);
    if (!(Number.isInteger(size) && size >= 0)) throw new RangeError(`Adam size must be a non-negative integer, got ${size}`);
    if (state) {
      if (state.m.length !== size || state.v.length !== size)
        throw new RangeError(`Adam state holds ${state.m.length}/${state.v.length} moments, expected ${size}`);
      if (!(Number.isInteger(state.step) && state.step >= 0)) throw new RangeError(`Adam state step ${state.step} is not a non-negative integer`);
    }
    this.t = state?.step ?? 0;
    // float32 weights, float64 gradient (8-aligned), then the float32 moments; the memory never
    // grows, so the views below stay valid for the instance's life.
    // Stryker disable next-line ArithmeticOperator: a larger offset only leaves unused memory between the arrays
    const gradientAt = Math.ceil((4 * size) / 8) * 8;
    const mAt = gradientAt + 8 * size;
    const vAt = mAt + 4 * size;
    const kernel = options.kernel === 'js' ? null : instantiateSimdAdam(vAt + 4 * size);
    this.kernel = kernel ? 'wasm-simd' : 'js';
    if (kernel) {
      const { buffer } = kernel;
      this.simd = { step: kernel.step, gradientAt, mAt, vAt };
      this.weightBuffer = new Float32Array(buffer, 0, size);
      this.gradientBuffer = new Float64Array(buffer, gradientAt, size);
      this.m = new Float32Array(buffer, mAt, size);
      this.v = new Float32Array(buffer, vAt, size);
    } else {
      this.simd = null;
      this.weightBuffer = new Float32Array(size);
      this.gradientBuffer = new Float64Array(size);
      this.m = new Float32Array(size);
      this.v = new Float32Array(size);
    }
    if (state) this.restore(state);
  }

  /** Sets the moments and step count to `state`'s (a copy), as when constructed with it. */
  restore(state: AdamState): void {
    if (state.m.length !== this.size || state.v.length !== this.size)
      throw new RangeError(`Adam state holds ${state.m.length}/${state.v.length} moments, expected ${this.size}`);
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new RangeError(`Adam state step ${state.step} is not a non-negative integer`);
    this.t = state.step;
    this.m.set(state.m);
    this.v.set(state.v);
  }

  get step(): number {
    return this.t;
  }

  /**
   * Updates `weights` in place from the gradient `gradient[i] / divisor` (pass a sum and the batch
   * size, or a mean and 1); dividing here saves a pass and an allocation over the parameters.
   */
  apply(weights: Float32Array, gradient: ArrayLike<number>, divisor = 1): void {
    if (weights.length !== this.size || gradient.length !== this.size) {
      throw new RangeError(`Adam over ${this.size} parameters got ${weights.length} weights and ${gradient.length} gradients`);
    }
    const { learningRate, beta1, beta2, epsilon } = this.config;
    this.t += 1;
    const lrT = (learningRate * Math.sqrt(1 - beta2 ** this.t)) / (1 - beta1 ** this.t);
    const simd = this.simd;
    if (!simd) {
      adamLoop(weights, gradient, this.m, this.v, 0, this.size, divisor, this.config, lrT);
      return;
    }
    // Stryker disable next-line ConditionalExpression: copying the kernel's own buffer onto itself changes nothing
    if (gradient !== this.gradientBuffer) this.gradientBuffer.set(gradient);
    // Stryker disable next-line ConditionalExpression: as above
    if (weights !== this.weightBuffer) this.weightBuffer.set(weights);
    const even = this.size - (this.size % 2);
    simd.step(0, simd.gradientAt, simd.mAt, simd.vAt, even, divisor, beta1, 1 - beta1, beta2, 1 - beta2, lrT, epsilon);
    adamLoop(this.weightBuffer, this.gradientBuffer, this.m, this.v, even, this.size, divisor, this.config, lrT);
    // Stryker disable next-line ConditionalExpression: as above
    if (weights !== this.weightBuffer) weights.set(this.weightBuffer);
  }

  /** A copy of the state, safe to keep or serialise. */
  state(): AdamState {
    return { step: this.t, m: Float32Array.from(this.m), v: Float32Array.from(this.v) };
  }
}

/** Adam's loop over parameters [from, to), in JavaScript; simd-kernel.ts mirrors it. */
function adamLoop(
  weights: Float32Array,
  gradient: ArrayLike<number>,
  m: Float32Array,
  v: Float32Array,
  from: number,
  to: number,
  divisor: number,
  { beta1, beta2, epsilon }: AdamConfig,
  lrT: number,
): void {
  const oneMinusBeta1 = 1 - beta1;
  const oneMinusBeta2 = 1 - beta2;
  // Stryker disable next-line EqualityOperator: typed arrays ignore the write one past the end
  for (let i = from; i < to; i++) {
    const g = gradient[i]! / divisor;
    // The moments are used as stored (rounded to float32), without reading them back: the same
    // bits as before, about 10% faster on the coordinator's path between phases.
    const mi = Math.fround(beta1 * m[i]! + oneMinusBeta1 * g);
    const vi = Math.fround(beta2 * v[i]! + oneMinusBeta2 * g * g);
    m[i] = mi;
    v[i] = vi;
    weights[i] = weights[i]! - (lrT * mi) / (Math.sqrt(vi) + epsilon);
  }
}

const STATE_MAGIC = 0x4d414441; // "ADAM" little-endian

/** Binary form: magic, size, step (u32 each, LE), then m and v as little-endian float32. */
export function encodeAdamState(state: AdamState): Uint8Array {
  const size = state.m.length;
  const out = new Uint8Array(12 + 8 * size);
  const view = new DataView(out.buffer);
  view.setUint32(0, STATE_MAGIC, true);
  view.setUint32(4, size, true);
  view.setUint32(8, state.step, true);
  out.set(new Uint8Array(state.m.buffer, state.m.byteOffset, state.m.byteLength), 12);
  out.set(new Uint8Array(state.v.buffer, state.v.byteOffset, state.v.byteLength), 12 + 4 * size);
  return out;
}

export function decodeAdamState(bytes: Uint8Array): AdamState {
  if (bytes.length < 12) throw new RangeError(`Adam state is ${bytes.length} bytes, shorter than its 12-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== STATE_MAGIC) throw new RangeError('Adam state has a wrong magic number');
  const size = view.getUint32(4, true);
  if (bytes.length !== 12 + 8 * size) throw new RangeError(`Adam state for ${size} parameters must be ${12 + 8 * size} bytes, got ${bytes.length}`);
  const copy = new Uint8Array(bytes.subarray(12)); // an aligned copy (Buffer#slice would be a view)
  return {
    step: view.getUint32(8, true),
    m: new Float32Array(copy.buffer, 0, size),
    v: new Float32Array(copy.buffer, 4 * size, size),
  };
}
