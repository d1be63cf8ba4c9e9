import util from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  nativeBackendRequired,
  bridgeRemovedUtilFunctions,
  configureTensorFlow,
  environmentAsGiven,
  defaultBackendChoice,
  describeSelection,
  parseBackendChoice,
  probeBackend,
  selectBackend,
} from './index.js';

async function nodeLoads(): Promise<boolean> {
  try {
    await selectBackend('node');
    return true;
  } catch {
    return false;
  }
}

/** tfjs's name for a backend of ours. */
const TFJS_NAME = { node: 'tensorflow', wasm: 'wasm', cpu: 'cpu' } as const;

/**
 * Replaces `kernelName` on `backend` with `kernelFunc` until the returned function restores it:
 * a backend that loads but fails or miscomputes at its first op, as tfjs-node did on Node.js 24.
 */
function replaceKernel(kernelName: string, backend: string, kernelFunc: tf.KernelFunc): () => void {
  const original = tf.getKernel(kernelName, backend);
  if (!original) throw new Error(`no ${kernelName} kernel on ${backend}`);
  tf.unregisterKernel(kernelName, backend);
  tf.registerKernel({ kernelName, backendName: backend, kernelFunc });
  return () => {
    tf.unregisterKernel(kernelName, backend);
    tf.registerKernel(original);
  };
}

describe('selectBackend', () => {
  const fromEnvironment = process.env.DISTGAN_BACKEND;
  afterEach(() => {
    if (fromEnvironment === undefined) delete process.env.DISTGAN_BACKEND;
    else process.env.DISTGAN_BACKEND = fromEnvironment;
  });

  it('auto picks node when it loads, else wasm, and records why node was skipped', async () => {
    const selection = await selectBackend('auto');
    expect(['node', 'wasm']).toContain(selection.backend);
    expect(tf.getBackend()).toBe(TFJS_NAME[selection.backend]);
    if (selection.backend === 'wasm') {
      expect(selection.skipped.map((s) => s.backend)).toEqual(['node']);
      expect(describeSelection(selection)).toMatch(/^backend wasm \(node skipped: /);
    }
  });

  it('forces cpu and wasm, and computes the same matmul on both', async () => {
    const product = () => tf.tidy(() => Array.from(tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()));
    await selectBackend('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const onCpu = product();
    await selectBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(product()).toEqual(onCpu);
    expect(onCpu).toEqual([11]);
  });

  it('fails loudly, never silently, when a forced backend cannot load', async () => {
    let importable = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      importable = false;
    }
    if (importable) expect((await selectBackend('node')).backend).toBe('node');
    else await expect(selectBackend('node')).rejects.toThrow(/backend "node" could not be loaded/);
    expect(() => parseBackendChoice('gpu')).toThrow(/expected one of auto, node, wasm, cpu/);
  });

  it('accepts a backend only once a forward and backward pass has run on it; auto then falls back with the reason', async () => {
    const first = (await selectBackend('auto')).backend;
    const restore = replaceKernel('Sigmoid', TFJS_NAME[first], () => {
      throw new Error('Sigmoid is broken here');
    });
    try {
      await expect(selectBackend(first)).rejects.toThrow(`backend "${first}" could not be loaded: Sigmoid is broken here`);
      const fallback = await selectBackend('auto');
      expect(fallback.backend).not.toBe(first);
      expect(fallback.skipped.find((s) => s.backend === first)?.reason).toBe('Sigmoid is broken here');
    } finally {
      restore();
    }
    expect((await selectBackend(first)).skipped).toEqual([]);
  });

  it('rejects a backend whose probe computes wrong numbers', async () => {
    await selectBackend('cpu');
    const restore = replaceKernel('Sigmoid', 'cpu', ({ inputs, backend }) => {
      const x = inputs.x!;
      const cpu = backend as unknown as { makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo };
      return cpu.makeTensorInfo(x.shape, 'float32', new Float32Array(x.shape.reduce((a, n) => a * n, 1)).fill(0.25));
    });
    try {
      expect(() => probeBackend()).toThrow(/forward and backward probe computed wrong values/);
    } finally {
      restore();
    }
    expect(() => probeBackend()).not.toThrow();
  });

  it('takes its default from DISTGAN_BACKEND, and names the variable when its value is unknown', async () => {
    expect(defaultBackendChoice({})).toBe('auto');
    expect(defaultBackendChoice({ DISTGAN_BACKEND: 'wasm' })).toBe('wasm');
    expect(() => defaultBackendChoice({ DISTGAN_BACKEND: 'gpu' })).toThrow(/^DISTGAN_BACKEND: unknown backend "gpu"/);
    process.env.DISTGAN_BACKEND = 'cpu';
    expect((await selectBackend()).backend).toBe('cpu');
  });
});

describe('the node backend on every Node.js version', () => {
  it('bridges util.isNullOrUndefined, which Node.js 23 removed and tfjs-node 4.22 calls', async () => {
    bridgeRemovedUtilFunctions();
    const bridged = (util as unknown as { isNullOrUndefined: (v: unknown) => boolean }).isNullOrUndefined;
    expect([null, undefined, 0, '', false, {}].map((v) => bridged(v))).toEqual([true, true, false, false, false, false]);
    // util.isArray too: Node.js 24 warns (DEP0044) at every call of its own.
    expect((util as unknown as { isArray: unknown }).isArray).toBe(Array.isArray);
  });

  it('trains a step through tfjs-node where it is installed (npm run native-backend)', async (context) => {
    // Skipped, and said so in the report, only where nothing asked for node: with DISTGAN_BACKEND=node it must load.
    if (!(await nodeLoads()) && !nativeBackendRequired()) context.skip('tfjs-node is not set up here (npm run native-backend)');
    await selectBackend('node');
    const before = tf.memory().numTensors;
    const w = tf.tidy(() => tf.variable(tf.tensor2d([[0.5], [0.25]])));
    const grads = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(tf.matMul(tf.tensor2d([[1, 2]]), w))), [w]);
      return Array.from(grads[w.name]!.dataSync());
    });
    w.dispose();
    expect(grads).toEqual([2, 4]); // d/dw (x.w)^2 = 2 (x.w) x, with x.w = 1
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('configureTensorFlow', () => {
  it('asks for oneDNN and quiet INFO logs unless the user set either', () => {
    const env: NodeJS.ProcessEnv = {};
    configureTensorFlow(undefined, env);
    expect(env).toEqual({ TF_CPP_MIN_LOG_LEVEL: '1', TF_ENABLE_ONEDNN_OPTS: '1' });
    const mine: NodeJS.ProcessEnv = { TF_CPP_MIN_LOG_LEVEL: '0', TF_ENABLE_ONEDNN_OPTS: '0' };
    configureTensorFlow(undefined, mine);
    expect(mine).toEqual({ TF_CPP_MIN_LOG_LEVEL: '0', TF_ENABLE_ONEDNN_OPTS: '0' });
  });

  it('sizes the thread pools it is given, unless the user sized them', () => {
    const env: NodeJS.ProcessEnv = {};
    configureTensorFlow({ intraOp: 3, interOp: 1 }, env);
    expect([env.TF_NUM_INTRAOP_THREADS, env.TF_NUM_INTEROP_THREADS]).toEqual(['3', '1']);
    const mine: NodeJS.ProcessEnv = { TF_NUM_INTRAOP_THREADS: '8' };
    configureTensorFlow({ intraOp: 1, interOp: 1 }, mine);
    expect([mine.TF_NUM_INTRAOP_THREADS, mine.TF_NUM_INTEROP_THREADS]).toEqual(['8', '1']);
  });

  it("gives child processes the environment as the user gave it, without this process's own settings", () => {
    const had = { ...process.env };
    try {
      delete process.env.TF_NUM_INTEROP_THREADS;
      process.env.TF_NUM_INTRAOP_THREADS = '6'; // the user's
      configureTensorFlow({ intraOp: 1, interOp: 1 });
      expect([process.env.TF_NUM_INTRAOP_THREADS, process.env.TF_NUM_INTEROP_THREADS]).toEqual(['6', '1']);
      const given = environmentAsGiven();
      expect([given.TF_NUM_INTRAOP_THREADS, given.TF_NUM_INTEROP_THREADS]).toEqual(['6', undefined]);
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in had)) delete process.env[name];
      Object.assign(process.env, had);
    }
  });
});

describe('integerArg', () => {
  it('accepts integers in range and names the bad value otherwise', async () => {
    const { integerArg } = await import('./index.js');
    expect(integerArg(1)('12')).toBe(12);
    expect(() => integerArg(1)('0')).toThrow('expected an integer >= 1, got "0"');
    expect(() => integerArg(0, 9)('1.5')).toThrow('expected an integer in [0, 9], got "1.5"');
  });
});
