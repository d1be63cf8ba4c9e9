#!/usr/bin/env node
/**
 * npm run calibrate [-- --samples 10000]
 *
 * What the quality metrics say about real digits that are slightly off: halves of the training
 * set (MNIST's even and odd training indices come from different writers), and a random training
 * sample (the `npm run eval -- --real` one) with light pixel noise, blur or lower contrast. It
 * puts the issue-6 targets (score >= 9.0, Frechet distance <= 1.1) on a scale a reader can see.
 */
import { loadMnist } from '@distgan/mnist';
import { randomStream } from '@distgan/rng';
import { selectBackend } from '@distgan/runtime';
import { loadOrTrainClassifier, QualityEvaluator } from '@distgan/eval';
import { blur } from './image-ops.js';
import { toolArgs } from './tool-args.js';

const USAGE = `usage: npm run calibrate [-- --samples N] [-- --backend auto|node|wasm|cpu]

The quality metrics on real test digits and on slightly altered ones (blurred, noised, one class
left out), to read the classifier score and Frechet distance of a run against. --samples: images
per measurement, 100 to 30000 (default 10000).
`;
const { values } = toolArgs(USAGE, { options: { samples: { type: 'string', default: '10000' }, backend: { type: 'string', default: 'auto' } } });
const n = Number(values.samples);
if (!(Number.isInteger(n) && n >= 100 && n <= 30_000)) {
  process.stderr.write(`calibrate: --samples must be an integer in [100, 30000], got "${values.samples}"\n`);
  process.exit(2);
}

await selectBackend(values.backend as 'auto');
const trainSet = loadMnist();
const testSet = loadMnist({ split: 'test' });
const { classifier } = await loadOrTrainClassifier({ trainSet, testSet, log: (m) => process.stderr.write(`${m}\n`) });
const evaluator = new QualityEvaluator(classifier, testSet);

// The same sample `npm run eval -- --real` scores.
const sampleStream = randomStream(0, 'eval-real');
const sample = trainSet.batch(Uint32Array.from({ length: n }, (_, i) => sampleStream.below(i, trainSet.count)));
const noise = randomStream(1, 'calibrate-noise').fillNormal(new Float32Array(sample.length), 0);
const clip = (v: number) => Math.min(1, Math.max(0, v));

const cases: [string, () => Float32Array][] = [
  ['random training sample (as eval --real)', () => sample],
  ['even training indices 0, 2, 4, ...', () => trainSet.batch(Uint32Array.from({ length: n }, (_, i) => 2 * i))],
  ['odd training indices 1, 3, 5, ...', () => trainSet.batch(Uint32Array.from({ length: n }, (_, i) => 2 * i + 1))],
  ...[0.05, 0.1, 0.2].map((s): [string, () => Float32Array] => [`sample + gaussian pixel noise sd ${s}`, () => sample.map((v, i) => clip(v + s * noise[i]!))]),
  ['sample, 3x3 blur (neighbours weigh 0.25)', () => blur(sample, n, 0.25)],
  ['sample, 3x3 box blur', () => blur(sample, n, 1)],
  ['sample, contrast x0.8', () => sample.map((v) => 0.8 * v)],
];
process.stdout.write(`| images (${n}, against the ${testSet.count} test images) | classifier score | Frechet distance |\n| --- | --- | --- |\n`);
for (const [name, make] of cases) {
  const m = evaluator.evaluate(make(), n);
  process.stdout.write(`| ${name} | ${m.classifierScore.toFixed(2)} | ${m.frechetDistance.toFixed(2)} |\n`);
}
classifier.dispose();
