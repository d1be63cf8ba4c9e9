import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { describeSelection, parseBackendChoice, selectBackend } from './index.js';

describe('selectBackend', () => {
  it('auto picks node when it loads, else wasm, and records why node was skipped', async () => {
    const selection = await selectBackend('auto');
    expect(['node', 'wasm']).toContain(selection.backend);
    expect(tf.getBackend()).toBe(selection.backend === 'node' ? 'tensorflow' : 'wasm');
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
    let nodeLoads = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      nodeLoads = false;
    }
    if (nodeLoads) expect((await selectBackend('node')).backend).toBe('node');
    else await expect(selectBackend('node')).rejects.toThrow(/backend "node" could not be loaded/);
    expect(() => parseBackendChoice('gpu')).toThrow(/expected one of auto, node, wasm, cpu/);
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
