import { describe, expect, it } from 'vitest';
import { killAll, startCoordinator } from './test-support/processes.js';
import { afterEach } from 'vitest';

afterEach(killAll);

describe('distgan-coordinator command line', () => {
  it('--help lists every flag', async () => {
    const c = startCoordinator(['--help']);
    expect((await c.exited).code).toBe(0);
    for (const flag of ['--preset', '--steps', '--batch-size', '--shards', '--seed', '--run-dir', '--backend', '--sample-every', '--data-dir', '--workers', '--in-process', '--host', '--port', '--token', '--tls-cert', '--tls-key', '--checkpoint-every', '--resume', '--task-timeout-ms', '--heartbeat-ms']) {
      expect(c.stdout).toContain(flag);
    }
  });

  it('rejects bad values with a message naming the flag', async () => {
    const bad = startCoordinator(['--shards', 'many']);
    expect((await bad.exited).code).not.toBe(0);
    expect(bad.stderr).toMatch(/--shards <k>.*expected an integer >= 1, got "many"/);
    const preset = startCoordinator(['--preset', 'huge']);
    expect((await preset.exited).code).not.toBe(0);
    expect(preset.stderr).toMatch(/Allowed choices are seed, default, tiny/);
    const tooMany = startCoordinator(['--preset', 'tiny', '--shards', '99', '--in-process']);
    expect((await tooMany.exited).code).toBe(1);
    expect(tooMany.stderr).toMatch(/shards \(99\) cannot exceed the batch size \(32\)/);
  });

  it('--resume without --run-dir says which flag is missing', async () => {
    const c = startCoordinator(['--resume', '--in-process']);
    expect((await c.exited).code).toBe(1);
    expect(c.stderr).toMatch(/--resume needs --run-dir DIR/);
  });

  it('a malformed --data-dir gives a clear error naming the file, and exits 1', async () => {
    const c = startCoordinator(['--preset', 'tiny', '--in-process', '--data-dir', '/nonexistent-mnist']);
    expect((await c.exited).code).toBe(1);
    expect(c.stderr).toMatch(/distgan-coordinator: error: \/nonexistent-mnist: no MNIST file found; looked for train-images-idx3-ubyte/);
  });
});
