import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The unit tests of the mutated modules (stryker.config.mjs): each imports its module's source directly. */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: [
      'packages/training/src/shard.test.ts',
      'packages/training/src/shard-variants.test.ts',
      'packages/training/src/state.test.ts',
      'packages/training/src/step.test.ts',
      'packages/training/src/order-sensitive.test.ts',
      'packages/training/src/accumulate.test.ts',
      'packages/optim/src/adam.test.ts',
      'packages/protocol/src/protocol.test.ts',
      'packages/protocol/src/spec.test.ts',
      'packages/protocol/src/validate.test.ts',
      'packages/mnist/src/dataset.test.ts',
      'apps/coordinator/src/scheduler.test.ts',
      'apps/coordinator/src/task-failures.test.ts',
      'packages/run-store/src/checkpoint.test.ts',
      'packages/run-store/src/checkpoint-store.test.ts',
      'apps/coordinator/src/verification.test.ts',

      'apps/coordinator/src/server.test.ts',
    ],
    testTimeout: 60_000,
    fileParallelism: false,
  },
});
