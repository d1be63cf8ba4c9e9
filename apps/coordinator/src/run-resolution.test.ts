import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '@distgan/runtime';
import { PRESETS } from '@distgan/training';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHECKPOINT_EVERY, DEFAULT_EVAL_SAMPLES, DEFAULT_VERIFY, openRun, resolveRun, type RunRequest } from './run-resolution.js';
import { tempDir } from './test-support/processes.js';

const tmp = tempDir();
beforeAll(async () => {
  await selectBackend();
});
afterAll(() => tmp.remove());

const storedOutputs = (dir: string) => (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { outputs: unknown }).outputs;

function start(request: Omit<RunRequest, 'preset'>) {
  const resolved = resolveRun({ preset: 'tiny', ...request });
  openRun(resolved, 'wasm', () => undefined);
  return resolved.outputs;
}

describe('output settings', () => {
  it('are kept in config.json: --resume keeps every one left out and keeps a changed one from then on', () => {
    const runDir = join(tmp.path, 'kept');
    const first = start({ runDir, resume: false, checkpointEvery: 3, evalEvery: 5, evalSamples: 50, sampleEvery: 0, verify: 0.5 });
    expect(first).toEqual({ sampleEvery: 0, checkpointEvery: 3, evalEvery: 5, evalSamples: 50, verify: 0.5 });
    expect(storedOutputs(runDir)).toEqual(first);
    expect(start({ runDir, resume: true })).toEqual(first);
    const changed = start({ runDir, resume: true, checkpointEvery: 7 });
    expect(changed).toEqual({ ...first, checkpointEvery: 7 });
    expect(start({ runDir, resume: true })).toEqual(changed);
  });

  it("default to the preset's sample period, a checkpoint every 1,000 steps and no evaluation", () => {
    const tinyPreset = PRESETS.tiny.sampleEvery;
    expect(start({ runDir: join(tmp.path, 'defaults'), resume: false })).toEqual({
      sampleEvery: tinyPreset,
      checkpointEvery: DEFAULT_CHECKPOINT_EVERY,
      evalEvery: 0,
      evalSamples: DEFAULT_EVAL_SAMPLES,
      verify: DEFAULT_VERIFY,
    });
  });

  it("read a run directory that kept only its sample period, at config.json's top level", () => {
    const runDir = join(tmp.path, 'older');
    start({ runDir, resume: false });
    const file = join(runDir, 'config.json');
    const { outputs: _outputs, ...older } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...older, sampleEvery: 4 }));
    expect(start({ runDir, resume: true })).toEqual({
      sampleEvery: 4,
      checkpointEvery: DEFAULT_CHECKPOINT_EVERY,
      evalEvery: 0,
      evalSamples: DEFAULT_EVAL_SAMPLES,
      verify: DEFAULT_VERIFY,
    });
    expect(JSON.parse(readFileSync(file, 'utf8'))).not.toHaveProperty('sampleEvery');
  });
});

describe('--start-or-resume', () => {
  it('starts a run in an empty --run-dir and continues it on every later start, with the same command line', () => {
    const runDir = join(tmp.path, 'engine');
    const first = resolveRun({ preset: 'tiny', runDir, resume: false, startOrResume: true, checkpointEvery: 2 });
    expect(first.resumed).toBe(false);
    openRun(first, 'wasm', () => undefined);
    const again = resolveRun({ preset: 'tiny', runDir, resume: false, startOrResume: true, checkpointEvery: 2 });
    expect(again.resumed).toBe(true);
    expect(again.config).toEqual(first.config);
  });

  it('needs --run-dir, and is not given with --resume', () => {
    expect(() => resolveRun({ preset: 'tiny', resume: false, startOrResume: true })).toThrow(/--start-or-resume needs --run-dir DIR/);
    expect(() => resolveRun({ preset: 'tiny', runDir: join(tmp.path, 'both'), resume: true, startOrResume: true })).toThrow(
      /--resume and --start-or-resume: pass one/,
    );
  });
});
