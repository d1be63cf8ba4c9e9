import { nativeBackendRequired, selectBackend } from '@distgan/runtime';
import { describe, expect, it } from 'vitest';
import { readMetrics, runToEnd, testRuns } from './test-support/processes.js';

// The README's claim about the tutorial's own recipe: its stop rule ends it at iteration 13, on
// each backend (their bits differ; the iteration does not).
const { runDir } = testRuns();

async function nodeMissing(): Promise<string | null> {
  try {
    await selectBackend('node');
    return null;
  } catch (err) {
    if (nativeBackendRequired()) throw err;
    return (err as Error).message;
  }
}

describe('the seed preset', () => {
  for (const backend of ['wasm', 'node'] as const) {
    it(`stops by the tutorial's rule at iteration 13 on ${backend}`, async ({ skip }) => {
      if (backend === 'node') {
        const missing = await nodeMissing();
        if (missing) skip(`tfjs-node is not set up here: ${missing}`);
      }
      const dir = runDir();
      const { proc, summary, code } = await runToEnd(['--preset', 'seed', '--in-process', '--backend', backend, '--no-dashboard', '--run-dir', dir]);
      expect(code).toBe(0);
      expect(proc.stderr).toMatch(/stop rule met at step 13: 0\.45 < D\(G\(z\)\) = 0\.4\d+ < 0\.55/);
      expect(summary.stoppedEarly).toBe(true);
      expect(summary.steps).toBe(14);
      // The tutorial's columns, one line per iteration: i, G loss, D loss, max pixel, D(G(z)).
      expect(proc.stdout.match(/^\d+ \d+\.\d{6} \d+\.\d{6} \d+\.\d{2} \d\.\d{6}$/gm)).toHaveLength(14);
      expect(readMetrics(dir)).toHaveLength(14);
    });
  }
});
