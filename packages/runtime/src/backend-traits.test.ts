import { describe, expect, it } from 'vitest';
import { backendTraits, selectBackend } from './index.js';

describe('backendTraits', () => {
  it('names what each backend does differently, and gives an unknown backend none of it', () => {
    expect(backendTraits('tensorflow')).toEqual({ nativeKernels: true, copiesOnCreate: false, heapViews: false });
    expect(backendTraits('wasm')).toEqual({ nativeKernels: false, copiesOnCreate: true, heapViews: true });
    expect(backendTraits('cpu')).toEqual({ nativeKernels: false, copiesOnCreate: false, heapViews: false });
    expect(backendTraits('webgl')).toEqual(backendTraits('cpu'));
  });

  it("reads the active backend's by default", async () => {
    await selectBackend('wasm');
    expect(backendTraits()).toEqual(backendTraits('wasm'));
    await selectBackend('cpu');
    expect(backendTraits().copiesOnCreate).toBe(false);
  });
});
