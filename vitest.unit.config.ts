import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: every package's and app's unit tests in one run, in seconds. Left out are
 * the process-level suites (`*.process.test.ts`: real coordinators, workers, containers and a
 * browser; `npm test` runs them with each project's own timeouts) and the classifier test, which
 * trains the evaluation classifier for minutes when it is not cached yet.
 */
export default defineConfig({
  test: {
    include: ['{packages,apps,tools}/*/src/**/*.test.ts'],
    exclude: ['**/*.process.test.ts', 'packages/eval/src/classifier.test.ts', '**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
  },
});
