/**
 * Adam's inner loop as a WebAssembly module with 128-bit SIMD: two parameters per instruction in
 * float64, rounded to float32 on store, the same IEEE operations in the same order as the
 * JavaScript loop in adam.ts, so both give the same bits (wasm has no fused multiply-add and keeps
 * subnormals). On the coordinator it runs 2.5x as fast as the JavaScript loop, and the loop sits
 * on the serial path between every two phases.
 *
 * The module is assembled here from its instructions (a few hundred bytes) rather than shipped as
 * a binary or compiled by a toolchain at build time. Its memory is imported, so each `Adam` gives
 * its own instance a memory holding its weights, gradient and moments.
 */

/** The exported function's parameters, in order. */
export type SimdAdamStep = (
  weightsAt: number,
  gradientAt: number,
  mAt: number,
  vAt: number,
  count: number,
  divisor: number,
  beta1: number,
  oneMinusBeta1: number,
  beta2: number,
  oneMinusBeta2: number,
  learningRateT: number,
  epsilon: number,
) => void;

// Value types and opcodes (WebAssembly core spec and its fixed-width SIMD extension).
const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_CONST = 0x41;
const I32_GE_U = 0x4f;
const I32_ADD = 0x6a;
const I32_SHL = 0x74;
const BLOCK = 0x02;
const LOOP = 0x03;
const EMPTY_BLOCK_TYPE = 0x40;
const BR = 0x0c;
const BR_IF = 0x0d;
const END = 0x0b;
const SIMD_PREFIX = 0xfd;
const simd = {
  load: 0x00,
  f64x2Splat: 0x14,
  store64Lane: 0x5b,
  load64Zero: 0x5d,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
} as const;

function uleb128(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function vector(items: readonly number[][]): number[] {
  return [...uleb128(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb128(content.length), ...content];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb128(bytes.length), ...bytes];
}

const op = (code: number): number[] => [SIMD_PREFIX, ...uleb128(code)];
/** 8-byte aligned access at the address on the stack. */
const MEMARG = [3, 0];

// Locals: the 12 parameters of SimdAdamStep, then these.
const P = { w: 0, g: 1, m: 2, v: 3, count: 4, divisor: 5, beta1: 6, oneMinusBeta1: 7, beta2: 8, oneMinusBeta2: 9, lrT: 10, epsilon: 11 } as const;
const L = {
  at4: 12,
  end4: 13,
  grad: 14,
  mNew: 15,
  vNew: 16,
  divisor: 17,
  beta1: 18,
  oneMinusBeta1: 19,
  beta2: 20,
  oneMinusBeta2: 21,
  lrT: 22,
  epsilon: 23,
} as const;

const get = (local: number): number[] => [LOCAL_GET, ...uleb128(local)];
const set = (local: number, ...value: number[][]): number[] => [...value.flat(), LOCAL_SET, ...uleb128(local)];
/** base + at4 (the float32 arrays) or base + 2 * at4 (the float64 gradient). */
const address32 = (base: number): number[] => [...get(base), ...get(L.at4), I32_ADD];
const address64 = (base: number): number[] => [...get(base), ...get(L.at4), I32_CONST, 1, I32_SHL, I32_ADD];
/** Two float32 at `address` widened to two float64 lanes. */
const loadPair32 = (address: number[]): number[] => [...address, ...op(simd.load64Zero), ...MEMARG, ...op(simd.f64x2PromoteLowF32x4)];
/** Rounds two float64 lanes to float32 and stores them at `address`. */
const storePair32 = (address: number[], value: number[]): number[] => [
  ...address,
  ...value,
  ...op(simd.f32x4DemoteF64x2Zero),
  ...op(simd.store64Lane),
  ...MEMARG,
  0,
];
/** Math.fround on both lanes: the value a float32 store keeps, as float64. */
const fround = (value: number[]): number[] => [...value, ...op(simd.f32x4DemoteF64x2Zero), ...op(simd.f64x2PromoteLowF32x4)];
const binary =
  (code: number) =>
  (a: number[], b: number[]): number[] => [...a, ...b, ...op(code)];
const add = binary(simd.f64x2Add);
const sub = binary(simd.f64x2Sub);
const mul = binary(simd.f64x2Mul);
const div = binary(simd.f64x2Div);
const sqrt = (a: number[]): number[] => [...a, ...op(simd.f64x2Sqrt)];

function body(): number[] {
  const locals = vector([
    [2, I32],
    [10, V128],
  ]);
  const splats = (
    [
      [L.divisor, P.divisor],
      [L.beta1, P.beta1],
      [L.oneMinusBeta1, P.oneMinusBeta1],
      [L.beta2, P.beta2],
      [L.oneMinusBeta2, P.oneMinusBeta2],
      [L.lrT, P.lrT],
      [L.epsilon, P.epsilon],
    ] as const
  ).flatMap(([lane, param]) => set(lane, get(param), op(simd.f64x2Splat)));
  // The loop mirrors adam.ts's JavaScript loop line for line; `count` must be even.
  const loop = [
    BLOCK,
    EMPTY_BLOCK_TYPE,
    LOOP,
    EMPTY_BLOCK_TYPE,
    ...get(L.at4),
    ...get(L.end4),
    I32_GE_U,
    BR_IF,
    1,
    // g = gradient[i] / divisor
    ...set(L.grad, div([...address64(P.g), ...op(simd.load), ...MEMARG], get(L.divisor))),
    // mi = fround(beta1 * m[i] + oneMinusBeta1 * g)
    ...set(L.mNew, fround(add(mul(get(L.beta1), loadPair32(address32(P.m))), mul(get(L.oneMinusBeta1), get(L.grad))))),
    // vi = fround(beta2 * v[i] + oneMinusBeta2 * g * g)
    ...set(L.vNew, fround(add(mul(get(L.beta2), loadPair32(address32(P.v))), mul(mul(get(L.oneMinusBeta2), get(L.grad)), get(L.grad))))),
    ...storePair32(address32(P.m), get(L.mNew)),
    ...storePair32(address32(P.v), get(L.vNew)),
    // weights[i] = weights[i] - (lrT * mi) / (sqrt(vi) + epsilon)
    ...storePair32(address32(P.w), sub(loadPair32(address32(P.w)), div(mul(get(L.lrT), get(L.mNew)), add(sqrt(get(L.vNew)), get(L.epsilon))))),
    ...set(L.at4, get(L.at4), [I32_CONST, 8, I32_ADD]),
    BR,
    0,
    END,
    END,
  ];
  const code = [...locals, ...set(L.end4, get(P.count), [I32_CONST, 2, I32_SHL]), ...splats, ...loop, END];
  return [...uleb128(code.length), ...code];
}

/** The module's bytes: one function `adam` over an imported memory `env.memory`. */
export function simdAdamModuleBytes(): Uint8Array {
  const params = [I32, I32, I32, I32, I32, F64, F64, F64, F64, F64, F64, F64];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector([[0x60, ...vector(params.map((t) => [t])), ...vector([])]])),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vector([[0]])),
    ...section(7, vector([[...name('adam'), 0x00, 0]])),
    ...section(10, vector([body()])),
  ]);
}

/**
 * The parts of the WebAssembly JavaScript API used here. Node has them all, but @types/node 20
 * does not declare them (TypeScript declares them only in its DOM library).
 */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
}

let compiled: object | null | undefined;

/** The compiled module, or null where this runtime has no WebAssembly SIMD. */
function simdAdamModule(wasm: WebAssemblyApi | undefined): object | null {
  if (compiled !== undefined) return compiled;
  const bytes = simdAdamModuleBytes();
  compiled = wasm?.validate(bytes) ? new wasm.Module(bytes) : null;
  return compiled;
}

/**
 * An instance of the kernel over a fresh memory of at least `byteLength` bytes, or null without
 * WebAssembly SIMD or when that memory is more than 32-bit wasm can address (about 214 M
 * parameters) or can be had: `Adam` then runs its JavaScript loop.
 */
export function instantiateSimdAdam(byteLength: number): { readonly step: SimdAdamStep; readonly buffer: ArrayBuffer } | null {
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  const module = simdAdamModule(wasm);
  if (!wasm || !module) return null;
  let memory: { readonly buffer: ArrayBuffer };
  try {
    memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(byteLength / 65_536)) });
  } catch (err) {
    // Over 65,536 pages, or no memory for it: the JavaScript loop's arrays may still fit.
    if (err instanceof RangeError) return null;
    throw err;
  }
  const instance = new wasm.Instance(module, { env: { memory } });
  return { step: instance.exports.adam as SimdAdamStep, buffer: memory.buffer };
}
