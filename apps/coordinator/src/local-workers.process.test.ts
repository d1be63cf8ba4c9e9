import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killAll, startCoordinator, tempDir } from './test-support/processes.js';

const tmp = tempDir();
afterEach(killAll);
afterAll(() => tmp.remove());

describe('local workers share the cores', () => {
  it('gives a real local worker its share of the cores, not the one thread the coordinator takes for itself', async () => {
    const c = startCoordinator([
      '--preset',
      'tiny',
      '--steps',
      '200',
      '--sample-every',
      '0',
      '--workers',
      '1',
      '--backend',
      'wasm',
      '--run-dir',
      join(tmp.path, 'run'),
    ]);
    const [, pid] = await c.waitFor(/started 1 local worker\(s\): pids (\d+)/);
    const env = Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
    expect(env.TF_NUM_INTRAOP_THREADS).toBe(process.env.TF_NUM_INTRAOP_THREADS ?? String(availableParallelism()));
    expect(env.TF_NUM_INTEROP_THREADS).toBe(process.env.TF_NUM_INTEROP_THREADS ?? '1');
  });
});
