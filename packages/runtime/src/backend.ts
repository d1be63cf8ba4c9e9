import * as tf from '@tensorflow/tfjs';

export type BackendChoice = 'auto' | 'node' | 'wasm' | 'cpu';
export type BackendName = Exclude<BackendChoice, 'auto'>;

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'node', 'wasm', 'cpu'];

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

async function activate(backend: BackendName): Promise<void> {
  switch (backend) {
    case 'node':
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

export function parseBackendChoice(value: string): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new Error(`unknown backend "${value}": expected one of ${BACKEND_CHOICES.join(', ')}`);
}

/**
 * Activates a TensorFlow.js backend. `auto` tries tfjs-node (native, fastest; optional because its
 * install downloads libtensorflow), then wasm (SIMD, ships inside its npm package), then cpu.
 * A forced choice that cannot load is an error, never a silent fallback.
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendSelection> {
  tf.enableProdMode(); // skips per-op NaN debugging checks that cost time on every kernel
  const candidates = choice === 'auto' ? ORDER : [choice];
  const skipped: { backend: BackendName; reason: string }[] = [];
  for (const backend of candidates) {
    try {
      await activate(backend);
      await tf.ready();
      return { backend, skipped };
    } catch (err) {
      const reason = (err as Error).message.split('\n')[0] ?? String(err);
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
