// @ts-check
/**
 * Mutation testing of the modules that carry distgan's promises (bit-identical sums, Adam, the
 * wire's validation, scheduling and failure rules, checkpoints, the IDX reader, the token check,
 * verified training). `npm run mutation` runs it; README.md says what it covers and
 * survivors.md why each surviving mutant is left.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  mutate: [
    'packages/training/src/accumulate.ts',
    'packages/training/src/step.ts',
    'packages/optim/src/adam.ts',
    'packages/optim/src/gradient-bound.ts',
    'packages/protocol/src/validate.ts',
    'packages/protocol/src/codec.ts',
    'packages/protocol/src/errors.ts',
    'packages/mnist/src/idx.ts',
    'apps/coordinator/src/scheduler.ts',
    'apps/coordinator/src/task-failures.ts',
    'packages/run-store/src/checkpoint.ts',
    'apps/coordinator/src/verification.ts',
    // The token check, not the server around it.
    'apps/coordinator/src/server.ts:68-85',
  ],
  testRunner: 'vitest',
  vitest: { configFile: 'tools/mutation/vitest.config.ts', related: false },
  checkers: ['typescript'],
  tsconfigFile: 'tools/mutation/tsconfig.json',
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 60_000,
  thresholds: { high: 90, low: 85, break: 85 },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
