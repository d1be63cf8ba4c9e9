import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Process-level tests start real coordinators and workers; two cores run them one file at a time.
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
