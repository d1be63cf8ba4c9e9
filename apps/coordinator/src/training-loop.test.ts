import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadMnist } from '@distgan/mnist';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@distgan/runtime';
import { LocalExecutor, PhaseAbortedError, ShardComputer, type PhasePlan, type ShardExecutor } from '@distgan/training';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunOutputs } from './run-outputs.js';
import { openRun, resolveRun } from './run-resolution.js';
import { tempDir } from './test-support/processes.js';
import { trainToEnd, type LoopOptions } from './training-loop.js';

const dataset = loadMnist();
const tmp = tempDir();
beforeAll(async () => {
  await selectBackend();
});
afterAll(() => tmp.remove());

let runs = 0;
/** A new tiny run in process, its outputs and the loop's options (no server, no child processes). */
function tinyRun(steps: number, overrides: Partial<LoopOptions> = {}) {
  const resolved = resolveRun({ preset: 'tiny', steps, seed: 3, runDir: join(tmp.path, `run-${++runs}`), sampleEvery: 2, resume: false });
  const opened = openRun(resolved, 'wasm', () => undefined);
  const outputs = new RunOutputs(
    resolved.runDir,
    opened.config,
    opened.checkpoints,
    { sampleEvery: 2, evalEvery: 0, evalSamples: 0, evaluator: null, write: () => undefined },
    [],
  );
  const computer = new ShardComputer(opened.config, dataset);
  const options: LoopOptions = {
    config: opened.config,
    datasetSize: dataset.count,
    checkpointEvery: 0,
    ignoreStopRule: false,
    stopRequested: () => false,
    log: () => undefined,
    ...overrides,
  };
  return { dir: resolved.runDir, state: opened.state, outputs, computer, executor: new LocalExecutor(computer), options };
}

describe('trainToEnd and RunOutputs, in process', () => {
  it('trains every step, records one metrics line each, writes samples and checkpoints on their periods, and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const run = tinyRun(5, { checkpointEvery: 2 });
    const end = await trainToEnd(run.state, run.executor, run.outputs, run.options);
    expect(end).toEqual({ stoppedEarly: false, abortedPhase: null });
    expect(run.state.nextStep).toBe(5);
    expect(run.outputs.metrics.map((m) => m.step)).toEqual([0, 1, 2, 3, 4]);
    expect(run.dir.readMetrics().map((m) => m.step)).toEqual([0, 1, 2, 3, 4]);
    expect(readdirSync(run.dir.layout.samplesDir).sort()).toEqual(['step-000000.png', 'step-000002.png', 'step-000004.png']); // and the last
    expect(
      readdirSync(run.dir.layout.checkpointsDir)
        .filter((f) => f.endsWith('.ckpt'))
        .sort(),
    ).toEqual(['step-000002.ckpt', 'step-000004.ckpt']);
    expect(existsSync(join(run.dir.layout.generatorDir, 'model.json'))).toBe(true);
    run.computer.dispose();
    run.outputs.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('finishes the step in flight and starts no other once a stop is requested', async () => {
    let stop = false;
    const run = tinyRun(50, { stopRequested: () => stop });
    const executor: ShardExecutor = {
      runPhase: async (plan: PhasePlan) => {
        if (plan.step === 1) stop = true; // a signal arrives during step 1
        await run.executor.runPhase(plan);
      },
      takeStepStats: () => run.executor.takeStepStats(),
    };
    await trainToEnd(run.state, executor, run.outputs, run.options);
    expect(run.state.nextStep).toBe(2);
    expect(run.outputs.metrics.map((m) => m.step)).toEqual([0, 1]);
    run.computer.dispose();
    run.outputs.dispose();
  });

  it('reports the phase a stop with no worker cut short, with the step left incomplete', async () => {
    const run = tinyRun(50);
    const executor: ShardExecutor = {
      runPhase: async (plan: PhasePlan) => {
        if (plan.step === 2 && plan.phase === 'G') throw new PhaseAbortedError('G', 'SIGTERM with no worker connected');
        await run.executor.runPhase(plan);
      },
      takeStepStats: () => run.executor.takeStepStats(),
    };
    const end = await trainToEnd(run.state, executor, run.outputs, run.options);
    expect(end).toEqual({ stoppedEarly: false, abortedPhase: 'G' });
    expect(run.state.nextStep).toBe(2);
    expect(run.outputs.metrics).toHaveLength(2);
    run.computer.dispose();
    run.outputs.dispose();
  });
});
