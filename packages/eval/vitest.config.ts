import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The first run trains the evaluation classifier (a few minutes on wasm); later runs load it.
  test: { testTimeout: 600_000, hookTimeout: 600_000, fileParallelism: false },
});
