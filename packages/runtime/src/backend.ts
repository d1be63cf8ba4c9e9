import * as tf from '@tensorflow/tfjs';
import { bridgeRemovedUtilFunctions, configureTensorFlow, type TensorFlowThreads } from './node-compat.js';

export type BackendChoice = 'auto' | 'node' | 'wasm' | 'cpu';
export type BackendName = Exclude<BackendChoice, 'auto'>;

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'node', 'wasm', 'cpu'];

/** The environment variable that sets the default `--backend` (tests and scripts use it to run everything on one backend). */
export const BACKEND_ENV = 'DISTGAN_BACKEND';

export interface BackendSelection {
  /** The backend now active in tfjs. */
  readonly backend: BackendName;
  /** Why each preferred backend before it was not used (empty when the first choice loaded). */
  readonly skipped: readonly { readonly backend: BackendName; readonly reason: string }[];
}

const ORDER: readonly BackendName[] = ['node', 'wasm', 'cpu'];

// A variable specifier keeps TypeScript from requiring the optional package at build time.
const TFJS_NODE = '@tensorflow/tfjs-node';
const TFJS_WASM = '@tensorflow/tfjs-backend-wasm';

async function activate(backend: BackendName, options: BackendOptions): Promise<void> {
  switch (backend) {
    case 'node':
      bridgeRemovedUtilFunctions();
      configureTensorFlow(options.tensorFlowThreads);
      await import(TFJS_NODE); // registers "tensorflow"; throws when the native library is missing
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node loaded but its backend failed to initialise');
      return;
    case 'wasm':
      await import(TFJS_WASM);
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
      return;
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
      return;
    default: {
      const unknown: never = backend;
      throw new Error(`unknown backend ${String(unknown)}`);
    }
  }
}

/**
 * A dense layer's forward and backward pass on the active backend, checked against the same
 * arithmetic in JavaScript. A backend can load and still fail at its first op (tfjs-node on a
 * Node.js newer than it knows, a binding built against another libtensorflow): only one that
 * computes the right numbers is accepted.
 */
export function probeBackend(): void {
  const { y, dw } = tf.tidy(() => {
    const x = tf.tensor2d([0.5, -1, 2, 0.25, 1.5, -0.75], [2, 3]);
    const w = tf.tensor2d([1, -2, 0.5, 3, -1, 0.25], [3, 2]);
    const f = (weights: tf.Tensor) => tf.sum(tf.sigmoid(tf.matMul(x, weights as tf.Tensor2D)));
    const { value, grad } = tf.valueAndGrad(f)(w);
    return { y: value.dataSync()[0]!, dw: Array.from(grad.dataSync()) };
  });
  const xs = [
    [0.5, -1, 2],
    [0.25, 1.5, -0.75],
  ];
  const ws = [
    [1, -2],
    [0.5, 3],
    [-1, 0.25],
  ];
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  let wantY = 0;
  const wantDw = [0, 0, 0, 0, 0, 0];
  for (const row of xs) {
    for (let j = 0; j < 2; j++) {
      const s = sigmoid(row.reduce((acc, v, k) => acc + v * ws[k]![j]!, 0));
      wantY += s;
      row.forEach((v, k) => {
        wantDw[k * 2 + j]! += v * s * (1 - s);
      });
    }
  }
  const close = (a: number, b: number) => Number.isFinite(a) && Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));
  if (!close(y, wantY) || dw.length !== 6 || !dw.every((v, i) => close(v, wantDw[i]!))) {
    throw new Error(`its forward and backward probe computed wrong values (sum ${y}, expected ${wantY.toFixed(6)})`);
  }
}

export function parseBackendChoice(value: string): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new Error(`unknown backend "${value}": expected one of ${BACKEND_CHOICES.join(', ')}`);
}

/**
 * Whether tests must find tfjs-node rather than skip what needs it: where `DISTGAN_BACKEND=node`
 * asks for it, or `DISTGAN_REQUIRE_NATIVE=1` (CI, once it set the native backend up) says it is there.
 */
export function nativeBackendRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[BACKEND_ENV] === 'node' || env.DISTGAN_REQUIRE_NATIVE === '1';
}

/** The default `--backend`: `DISTGAN_BACKEND` when set (an unknown value is an error), else auto. */
export function defaultBackendChoice(env: NodeJS.ProcessEnv = process.env): BackendChoice {
  const value = env[BACKEND_ENV];
  if (value === undefined || value === '') return 'auto';
  try {
    return parseBackendChoice(value);
  } catch (err) {
    throw new Error(`${BACKEND_ENV}: ${(err as Error).message}`);
  }
}

export interface BackendOptions {
  /** TensorFlow's thread pools on tfjs-node (other backends ignore them); unset: TensorFlow's default. */
  readonly tensorFlowThreads?: TensorFlowThreads;
}

/**
 * Activates a TensorFlow.js backend that has passed `probeBackend`. `auto` tries tfjs-node
 * (native, fastest; optional because its install downloads libtensorflow), then wasm (SIMD, ships
 * inside its npm package), then cpu, and records why each one before was skipped. A forced choice
 * that cannot load or fails the probe is an error, never a silent fallback.
 */
export async function selectBackend(choice: BackendChoice = defaultBackendChoice(), options: BackendOptions = {}): Promise<BackendSelection> {
  tf.enableProdMode(); // skips per-op NaN debugging checks that cost time on every kernel
  const candidates = choice === 'auto' ? ORDER : [choice];
  const skipped: { backend: BackendName; reason: string }[] = [];
  for (const backend of candidates) {
    try {
      await activate(backend, options);
      await tf.ready();
      probeBackend();
      return { backend, skipped };
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? String(err);
      if (choice !== 'auto') throw new Error(`backend "${backend}" could not be loaded: ${reason}`);
      skipped.push({ backend, reason });
    }
  }
  throw new Error(`no TensorFlow.js backend could be loaded: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
}

/** One line for logs: "backend wasm (node skipped: Cannot find module ...)". */
export function describeSelection(selection: BackendSelection): string {
  const skipped = selection.skipped.map((s) => `${s.backend} skipped: ${s.reason.slice(0, 120)}`);
  return `backend ${selection.backend}${skipped.length > 0 ? ` (${skipped.join('; ')})` : ''}`;
}
