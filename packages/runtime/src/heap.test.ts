import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { relaxHeapGrowth } from './index.js';

describe('relaxHeapGrowth', () => {
  it('rejects a growth that is not a positive integer', () => {
    expect(() => relaxHeapGrowth(0)).toThrow(/positive integer, got 0/);
    expect(() => relaxHeapGrowth(2.5)).toThrow(/positive integer, got 2.5/);
  });

  it('sets a flag this Node accepts at run time (an unknown flag would print a warning)', () => {
    const heap = fileURLToPath(new URL('../dist/heap.js', import.meta.url));
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `import { relaxHeapGrowth } from ${JSON.stringify(heap)}; relaxHeapGrowth(); console.log('ok')`],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('ok');
    expect(r.stderr).toBe('');
  });
});
