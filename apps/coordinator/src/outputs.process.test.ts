import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { fillNoise, generatorInput, loadLayersModelFiles, Network, readLayersModelFiles } from '@distgan/models';
import { randomStream } from '@distgan/rng';
import { selectBackend } from '@distgan/runtime';
import { TrainingState, type RunConfig } from '@distgan/training';
import { PNG } from 'pngjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, readMetrics, runToEnd, start, tempDir } from './test-support/processes.js';
import { CheckpointStore } from '@distgan/run-store';

const SAMPLE_CLI = fileURLToPath(new URL('../dist/sample-cli.js', import.meta.url));
const tmp = tempDir();
let dir = '';
beforeAll(async () => {
  await selectBackend();
  dir = `${tmp.path}/run`;
  await runToEnd(['--preset', 'default', '--steps', '3', '--batch-size', '16', '--sample-every', '2', '--in-process', '--run-dir', dir]);
});
afterEach(killAll);
afterAll(() => tmp.remove());

describe('run directory outputs', () => {
  it('holds config, metrics with every field, sample grids, a checkpoint and a summary', () => {
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
    expect(summary).toMatchObject({ steps: 3, preset: 'default', workers: 0 });
    // The summary's hashes are those of the state the last checkpoint holds.
    const written = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { run: RunConfig; backend: string };
    const config = written.run;
    const found = CheckpointStore.forRun(join(dir, 'checkpoints'), config).loadLatest(() => undefined)!;
    const hashes = new TrainingState(config, found.data).hashes();
    expect([summary.weightsSha256, summary.dSha256, summary.gSha256]).toEqual([hashes.weightsSha256, hashes.dSha256, hashes.gSha256]);
    expect(summary.backend).toBe(written.backend);
    expect(summary.lastCheckpoint).toBe(found.file);
    expect(found.file).toMatch(/step-000003\.ckpt$/);
    expect(summary.lastSample).toBe(join(dir, 'samples', 'step-000002.png'));
    expect(summary.generator).toBe(join(dir, 'generator', 'model.json'));
    expect(Number(summary.wallSeconds)).toBeGreaterThan(0);
    const metrics = readMetrics(dir);
    expect(metrics.map((m) => m.step)).toEqual([0, 1, 2]);
    for (const m of metrics) {
      for (const key of ['dLoss', 'gLoss', 'stepMs']) expect(Number.isFinite(m[key]) && Number(m[key]) > 0, `${key} ${m[key]}`).toBe(true);
      for (const key of ['dReal', 'dFake']) expect(Number(m[key]) > 0 && Number(m[key]) < 1, `${key} ${m[key]}`).toBe(true);
      expect(m.samplesPerSec).toBeCloseTo(16 / (Number(m.stepMs) / 1000), 6);
      // Both phases' shards, computed here, and the time computing them took: part of the step's.
      expect(m).toMatchObject({ workers: 0, bytesIn: 0, bytesOut: 0, shardsByWorker: { 'in-process': 2 * config.shards } });
      expect(Number(m.shardComputeMs) > 0 && Number(m.shardComputeMs) < Number(m.stepMs)).toBe(true);
    }
    const meanStepSeconds = metrics.reduce((sum, m) => sum + Number(m.stepMs), 0) / 1000 / metrics.length;
    expect(summary.meanSamplesPerSec).toBeCloseTo(16 / meanStepSeconds, 3);
    // In process, the coordinator's CPU time is the whole step's, and no worker reports any.
    for (const m of metrics) expect([Number(m.coordinatorCpuMs) > 0, m.workerCpuMs]).toEqual([true, 0]);
    // The default preset is class-conditional: ten digits of each class, one class per column.
    const png = PNG.sync.read(readFileSync(join(dir, 'samples', 'step-000002.png')));
    expect([png.width, png.height]).toEqual([10 * 30 + 2, 10 * 30 + 2]);
  });

  it('exports G as a tfjs LayersModel that draws the same images as the checkpointed generator', async () => {
    const config = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { run: RunConfig }).run;
    const found = CheckpointStore.forRun(join(dir, 'checkpoints'), config).loadLatest(() => undefined);
    const state = new TrainingState(config, found!.data);
    const g = new Network('G', config.model.generator, config.model.leakyReluAlpha);
    // The default preset exports the moving average of G, which differs from G itself.
    expect(state.gEma).not.toBeNull();
    expect(state.hashes().gEmaSha256).not.toBe(state.hashes().gSha256);
    g.load(state.sampleWeights());
    const z = fillNoise(config.model.noise, randomStream(3, 'check'), 0, 8);
    expect(config.model.classes).toBe(10);
    const expected = tf.tidy(() => g.apply(generatorInput(config.model, z, 8)).dataSync());
    const files = readLayersModelFiles(join(dir, 'generator'));
    expect(files.modelJson.userDefinedMetadata).toMatchObject({ step: 3, classes: 10 });
    const loaded = await loadLayersModelFiles(files);
    const actual = tf.tidy(() => (loaded.predict(generatorInput(config.model, z, 8)) as tf.Tensor).dataSync());
    let maxDiff = 0;
    expected.forEach((v, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - actual[i]!));
    });
    expect(maxDiff).toBeLessThan(1e-6);
    loaded.dispose();
    g.dispose();
  });

  it('per-step outputs describe their own step while the next one already runs on the workers', async () => {
    // With --checkpoint-every 1 the trainer waits for each step's bookkeeping before the next
    // step (a checkpoint is due every step); without it the next step's first phase is already
    // out while the probe, the metrics and the sample grid of the last step are written.
    const run = async (name: string, extra: string[]) => {
      const runDir = `${tmp.path}/${name}`;
      const { code, proc } = await runToEnd([
        '--preset',
        'seed',
        '--ignore-stop-rule',
        '--steps',
        '4',
        '--batch-size',
        '16',
        '--shards',
        '2',
        '--sample-every',
        '1',
        '--workers',
        '1',
        '--run-dir',
        runDir,
        ...extra,
      ]);
      expect(code, proc.stderr).toBe(0);
      return runDir;
    };
    const overlapped = await run('overlapped', []);
    const sequential = await run('sequential', ['--checkpoint-every', '1']);
    const fields = (runDir: string) =>
      readMetrics(runDir).map(({ step, dLoss, gLoss, probeMaxPixel, probeDFake }) => ({ step, dLoss, gLoss, probeMaxPixel, probeDFake }));
    expect(fields(overlapped)).toEqual(fields(sequential));
    expect(fields(overlapped).every((m) => typeof m.probeDFake === 'number')).toBe(true);
    // The worker's results report its CPU time (protocol 3), and it computed every shard: some CPU
    // each step; the coordinator's own time is counted apart.
    for (const m of readMetrics(overlapped)) expect([m.step, Number(m.workerCpuMs) > 0, Number(m.coordinatorCpuMs) > 0]).toEqual([m.step, true, true]);
    for (const step of [0, 1, 2, 3]) {
      const file = `samples/step-${String(step).padStart(6, '0')}.png`;
      expect(readFileSync(join(overlapped, file)).equals(readFileSync(join(sequential, file))), file).toBe(true);
    }
  });

  it('npm run sample writes a grid of n digits, deterministic for a seed', async () => {
    const run = async (args: string[]) => {
      const p = start(SAMPLE_CLI, ['--run', dir, ...args]);
      const { code } = await p.exited;
      expect(code, p.stderr).toBe(0);
      return p.stdout.trim();
    };
    const a = await run(['--n', '16', '--seed', '4', '--out', `${tmp.path}/a.png`]);
    const b = await run(['--samples', '16', '--seed', '4', '--out', `${tmp.path}/b.png`]); // --n's newer name
    const c = await run(['--n', '16', '--seed', '5', '--out', `${tmp.path}/c.png`]);
    const png = PNG.sync.read(readFileSync(a));
    expect([png.width, png.height]).toEqual([10 * 30 + 2, 2 * 30 + 2]); // one column per class
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
    const byClass = PNG.sync.read(readFileSync(await run(['--out', `${tmp.path}/d.png`])));
    expect([byClass.width, byClass.height]).toEqual([10 * 30 + 2, 10 * 30 + 2]); // ten of each digit by default
    const few = PNG.sync.read(readFileSync(await run(['--n', '4', '--out', `${tmp.path}/e.png`])));
    expect([few.width, few.height]).toEqual([4 * 30 + 2, 30 + 2]); // fewer digits than classes: one row
    const bad = start(SAMPLE_CLI, ['--run', `${tmp.path}/nowhere`]);
    expect((await bad.exited).code).toBe(1);
    expect(bad.stderr).toMatch(/is not a run directory \(no config\.json\)/);
  });
});
