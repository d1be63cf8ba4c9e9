#!/usr/bin/env node
/**
 * npm run diagnose -- --run DIR [--samples 10000]
 *
 * Where a run's Frechet distance comes from (docs/sample-quality.md): its mean and covariance
 * parts, the spread of the generated features against the test images' (overall and per
 * predicted class: a short spread is a diversity problem), the pixel statistics of both sets, and
 * the distance after small pixel alterations of the generated images (mid-tones brightened, a
 * light blur), which show what kind of pixel error the metric is reacting to.
 */
import { resolve } from 'node:path';
import { loadMnist } from '@distgan/mnist';
import { selectBackend } from '@distgan/runtime';
import { frechetDistance, generatedImages, loadOrTrainClassifier, meanAndCovariance, predictedClasses } from '@distgan/eval';
import { blur } from './image-ops.js';
import { toolArgs } from './tool-args.js';

const USAGE = `usage: npm run diagnose -- --run DIR [--samples N] [--backend auto|node|wasm|cpu]

What a run's generator gets wrong: the Frechet distance of its samples against real test digits,
and how it changes when the real digits are blurred or classes are left out. --samples: 100 to
10000 (default 10000).
`;
const { values } = toolArgs(USAGE, {
  options: { run: { type: 'string' }, samples: { type: 'string', default: '10000' }, backend: { type: 'string', default: 'auto' } },
});
const n = Number(values.samples);
if (!values.run || !(Number.isInteger(n) && n >= 100 && n <= 10_000)) {
  process.stderr.write(`diagnose: needs --run DIR and --samples in [100, 10000] (got ${values.run ?? 'no --run'}, "${values.samples}")\n`);
  process.exit(2);
}

await selectBackend(values.backend as 'auto');
const trainSet = loadMnist();
const testSet = loadMnist({ split: 'test' });
const { classifier } = await loadOrTrainClassifier({ trainSet, testSet, log: (m) => process.stderr.write(`${m}\n`) });
const d = classifier.config.features;
const real = testSet.batch(Uint32Array.from({ length: testSet.count }, (_, i) => i));
const { images, step } = await generatedImages(resolve(values.run), n, 0);

type Stats = { mean: Float64Array; cov: Float64Array };
const trace = (s: Stats) => Array.from({ length: d }, (_, i) => s.cov[i * d + i]!).reduce((a, b) => a + b, 0);
const meanTerm = (a: Stats, b: Stats) => a.mean.reduce((sum, m, i) => sum + (m - b.mean[i]!) ** 2, 0);
const distance = (a: Stats, b: Stats) => frechetDistance(a.mean, a.cov, b.mean, b.cov, d);
const round = (v: number, digits = 3) => Number(v.toFixed(digits));

/** Features and the predicted class of each image. */
function describe(pixels: Float32Array, count: number): { features: Float32Array; predicted: Int32Array } {
  const { features, probs } = classifier.run(pixels, count);
  return { features, predicted: predictedClasses(probs, count) };
}

/** Statistics of the rows predicted as class c (all rows when c is null). */
function statsOf(described: { features: Float32Array; predicted: Int32Array }, c: number | null): Stats & { count: number } {
  const rows = Array.from(described.predicted.keys()).filter((r) => c === null || described.predicted[r] === c);
  const picked = new Float32Array(rows.length * d);
  for (const [j, r] of rows.entries()) picked.set(described.features.subarray(r * d, (r + 1) * d), j * d);
  return { ...meanAndCovariance(picked, rows.length, d), count: rows.length };
}

function pixelStats(pixels: Float32Array): { meanPixel: number; above05: number; midTones: number } {
  let sum = 0;
  let above = 0;
  let mid = 0;
  for (const v of pixels) {
    sum += v;
    if (v > 0.5) above++;
    if (v > 0.1 && v < 0.9) mid++;
  }
  return { meanPixel: round(sum / pixels.length, 4), above05: round(above / pixels.length, 4), midTones: round(mid / pixels.length, 4) };
}

const realDescribed = describe(real, testSet.count);
const genDescribed = describe(images, n);
const reference = statsOf(realDescribed, null);
const generated = statsOf(genDescribed, null);
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
print({
  run: values.run,
  step,
  samples: n,
  frechetDistance: round(distance(generated, reference)),
  meanTerm: round(meanTerm(generated, reference)),
  featureTrace: round(trace(generated), 1),
  realFeatureTrace: round(trace(reference), 1),
});
print({ pixels: 'generated', ...pixelStats(images) });
print({ pixels: 'test images', ...pixelStats(real) });
for (let c = 0; c < 10; c++) {
  const g = statsOf(genDescribed, c);
  const r = statsOf(realDescribed, c);
  print({ predictedClass: c, generated: g.count, real: r.count, traceRatio: round(trace(g) / trace(r)), frechetDistance: round(distance(g, r), 2) });
}
const altered: [string, Float32Array][] = [
  ['mid-tones brightened (pixel^0.8)', images.map((v) => Math.max(0, v) ** 0.8)],
  ['mid-tones darkened (pixel^1.25)', images.map((v) => Math.max(0, v) ** 1.25)],
  ['3x3 blur, neighbours weigh 0.03', blur(images, n, 0.03)],
];
for (const [name, pixels] of altered) print({ altered: name, frechetDistance: round(distance(statsOf(describe(pixels, n), null), reference)) });
classifier.dispose();
