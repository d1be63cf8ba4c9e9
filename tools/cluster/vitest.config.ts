import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The Swarm test builds an image and runs a stack: one file at a time, with room for both.
    testTimeout: 15 * 60_000,
    hookTimeout: 20 * 60_000,
    fileParallelism: false,
  },
});
