import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIdxImages, encodeIdxLabels } from '@distgan/mnist';
import { configHash, modelVariant } from '@distgan/models';
import type { RunConfig } from '@distgan/training';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killAll, runToEnd, startCoordinator, tempDir } from './test-support/processes.js';

const tmp = tempDir();
afterEach(killAll);
afterAll(() => tmp.remove());

const runDirFor = (name: string) => join(tmp.path, `run-${name}`);

/** A --data-dir of `count` images of side x side pixels with the given labels. */
function dataDir(name: string, side: number, labels: number[]): string {
  const dir = join(tmp.path, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'train-images-idx3-ubyte'),
    encodeIdxImages({ count: labels.length, rows: side, cols: side, pixels: new Uint8Array(labels.length * side * side) }),
  );
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdxLabels(Uint8Array.from(labels)));
  return dir;
}

describe('distgan-coordinator command line', () => {
  it('--help lists every flag', async () => {
    const c = startCoordinator(['--help']);
    expect((await c.exited).code).toBe(0);
    for (const flag of [
      '--preset',
      '--steps',
      '--batch-size',
      '--shards',
      '--seed',
      '--run-dir',
      '--backend',
      '--sample-every',
      '--data-dir',
      '--workers',
      '--min-workers',
      '--in-process',
      '--host',
      '--port',
      '--token',
      '--tls-cert',
      '--tls-key',
      '--checkpoint-every',
      '--resume',
      '--task-timeout-ms',
      '--heartbeat-ms',
      '--model',
      '--objective',
    ]) {
      expect(c.stdout).toContain(flag);
    }
    // Checkpoints are periodic unless asked otherwise: a coordinator killed outright loses at most this many steps.
    // (Within its own help entry: --eval-samples has the same default.)
    expect(c.stdout).toMatch(/--checkpoint-every <n>(?:(?!\n {2}--)[\s\S])*default 1000\)/);
  });

  it('trains the models and objective beyond the presets: conv layers, a projection discriminator, dropout in D, least squares', async () => {
    for (const extra of [
      ['--model', 'conv'],
      ['--model', 'mlp-projection'],
      ['--model', 'mlp-conditional-dropout'],
      ['--objective', 'leastSquares'],
    ]) {
      const dir = runDirFor(extra.join('-'));
      const { summary } = await runToEnd([
        '--preset',
        'default',
        '--steps',
        '2',
        '--batch-size',
        '8',
        '--sample-every',
        '0',
        '--workers',
        '1',
        ...extra,
        '--run-dir',
        dir,
      ]);
      expect(summary.steps).toBe(2);
      const run = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { run: RunConfig }).run;
      if (extra[0] === '--model') expect(configHash(run.model)).toBe(configHash(modelVariant(extra[1]!)));
      else expect(run.objective).toBe('leastSquares');
    }
    const refused = startCoordinator(['--preset', 'tiny', '--model', 'nope', '--in-process']);
    expect((await refused.exited).code).not.toBe(0);
    expect(refused.stderr).toMatch(/--model.*nope.*Allowed choices are mlp, mlp-large, conv/);
  }, 120_000);

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

  it('--resume without --run-dir, or --min-workers with --in-process, says which flags clash', async () => {
    const c = startCoordinator(['--resume', '--in-process']);
    expect((await c.exited).code).toBe(1);
    expect(c.stderr).toMatch(/--resume needs --run-dir DIR/);
    const both = startCoordinator(['--in-process', '--min-workers', '2']);
    expect((await both.exited).code).toBe(1);
    expect(both.stderr).toMatch(/--min-workers waits for workers, but --in-process uses none/);
  });

  it('a malformed --data-dir gives a clear error naming the file, and exits 1', async () => {
    const c = startCoordinator(['--preset', 'tiny', '--in-process', '--data-dir', '/nonexistent-mnist']);
    expect((await c.exited).code).toBe(1);
    expect(c.stderr).toMatch(/distgan-coordinator: error: \/nonexistent-mnist: no MNIST file found; looked for train-images-idx3-ubyte/);
  });

  it('data that does not fit the model stops the coordinator at start, before any worker is waited for', async () => {
    // --workers 0 would wait for external workers for ever if the check were left to them.
    const labels = startCoordinator(['--preset', 'default', '--workers', '0', '--data-dir', dataDir('label10', 28, [3, 10, 4])]);
    expect((await labels.exited).code).toBe(1);
    expect(labels.stderr).toMatch(/distgan-coordinator: error: .*label10.*: image 1 has label 10, outside the model's 10 classes/);
    const small = startCoordinator(['--preset', 'tiny', '--workers', '0', '--data-dir', dataDir('small', 3, [1, 2])]);
    expect((await small.exited).code).toBe(1);
    expect(small.stderr).toMatch(/distgan-coordinator: error: .*small.*: images have 9 pixels but the discriminator expects 784/);
  });
});
