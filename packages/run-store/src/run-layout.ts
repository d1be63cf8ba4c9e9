import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunConfig } from '@distgan/training';

/**
 * Where a run directory keeps each output: the one description of the layout that the
 * coordinator writes and `npm run sample` and `npm run eval` read.
 */
export interface RunLayout {
  readonly root: string;
  /** The run config, its hash, and how the run was started. */
  readonly configFile: string;
  /** One JSON line per step. */
  readonly metricsFile: string;
  readonly summaryFile: string;
  /** Sample grids, `step-NNNNNN.png`. */
  readonly samplesDir: string;
  /** Checkpoints, `step-NNNNNN.ckpt`, and `latest`. */
  readonly checkpointsDir: string;
  /** The exported generator: a TensorFlow.js LayersModel (`model.json` and its weights). */
  readonly generatorDir: string;
}

export function runLayout(root: string): RunLayout {
  const dir = resolve(root);
  return {
    root: dir,
    configFile: join(dir, 'config.json'),
    metricsFile: join(dir, 'metrics.jsonl'),
    summaryFile: join(dir, 'summary.json'),
    samplesDir: join(dir, 'samples'),
    checkpointsDir: join(dir, 'checkpoints'),
    generatorDir: join(dir, 'generator'),
  };
}

/** The run config of an existing run directory; a clear error when `root` is not one. */
export function readRunConfig(layout: RunLayout): RunConfig {
  if (!existsSync(layout.configFile)) throw new Error(`${layout.root} is not a run directory (no config.json)`);
  const stored = JSON.parse(readFileSync(layout.configFile, 'utf8')) as { run?: RunConfig };
  if (!stored.run) throw new Error(`${layout.configFile} holds no run config`);
  return stored.run;
}
