#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { Command, Option } from 'commander';
import { fillNoise, Network, type GanModelConfig } from '@distgan/models';
import { randomStream } from '@distgan/rng';
import { backendOption, parseBackendChoice, selectBackend, integerArg } from '@distgan/runtime';
import { CheckpointStore, drawImages, loadExportedGenerator, readRunConfig, runLayout, type RunLayout } from '@distgan/run-store';
import { defaultSampleCount, TrainingState, type RunConfig } from '@distgan/training';
import { encodeSampleGrid } from './sample-grid.js';

/** G(z) for `n` noise rows, from the exported LayersModel when there is one, else the latest checkpoint. */
async function generate(layout: RunLayout, config: RunConfig, noise: Float32Array, n: number, log: (m: string) => void): Promise<Float32Array> {
  const model: GanModelConfig = config.model;
  const exported = await loadExportedGenerator(layout);
  if (exported) {
    log(`generator: ${exported.file}`);
    try {
      return drawImages(model, (input) => exported.model.predict(input) as tf.Tensor, noise, n);
    } finally {
      exported.model.dispose();
    }
  }
  const found = CheckpointStore.forRun(layout.checkpointsDir, config).loadLatest(log);
  if (!found) throw new Error(`${layout.root} has neither generator/model.json nor a usable checkpoint`);
  log(`generator: ${found.file}`);
  const state = new TrainingState(config, found.data);
  const g = new Network('G', model.generator, model.leakyReluAlpha);
  try {
    g.load(state.sampleWeights());
    return drawImages(model, (input) => g.apply(input), noise, n);
  } finally {
    g.dispose();
  }
}

async function main(): Promise<void> {
  const command = new Command('distgan-sample')
    .description("Write a PNG grid of digits drawn by a run's generator (its exported model, else its latest checkpoint)")
    .requiredOption('--run <dir>', 'run directory')
    .option('--samples <count>', 'number of digits (default: 64, or ten of each class for a class-conditional model)', integerArg(1, 1024))
    // The name npm run eval uses too; --n is its older spelling, still accepted.
    .addOption(new Option('--n <count>').argParser(integerArg(1, 1024)).hideHelp())
    .option('--seed <s>', 'noise seed', integerArg(0), 0)
    .option('--out <file>', 'output PNG (default: <run>/samples/sample-seed<S>.png)')
    .addOption(backendOption());
  command.parse();
  const opts = command.opts();
  const log = (m: string) => process.stderr.write(`[sample] ${m}\n`);
  try {
    const layout = runLayout(String(opts.run));
    const config = readRunConfig(layout);
    await selectBackend(parseBackendChoice(String(opts.backend)));
    const n = (opts.samples as number | undefined) ?? (opts.n as number | undefined) ?? defaultSampleCount(config.model);
    const noise = fillNoise(config.model.noise, randomStream(opts.seed as number, 'sample-cli'), 0, n);
    const images = await generate(layout, config, noise, n, log);
    const out = resolve(String(opts.out ?? join(layout.samplesDir, `sample-seed${opts.seed}.png`)));
    writeFileSync(out, encodeSampleGrid(config.model, images, n));
    process.stdout.write(`${out}\n`);
  } catch (err) {
    process.stderr.write(`distgan-sample: error: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

await main();
