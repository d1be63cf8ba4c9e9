#!/usr/bin/env node
/**
 * npm run sweep -- --lr 2e-3 --batch-size 128 [--g-lr R --beta1 0.5 --beta2 0.999 --steps 3000 --every 1000
 *   --samples 2000 --cooldown --real-label 0.9 --decays 0.99,0.999,0.9999/3 --model mlp|mlp-large|conv|conv-dense-d|conv-wide|hybrid|mlp-conditional|mlp-conditional-wide-g|mlp-conditional-dropout|mlp-conditional-narrow-d|mlp-conditional-narrow|mlp-projection]
 *
 * How the `default` preset's Adam rate and batch size were chosen (docs/sample-quality.md):
 * trains the default model in this process with one recipe and prints, every `--every` steps, one
 * JSON line with the classifier score and Frechet distance of G itself and of moving averages of G
 * (`--decays`, default 0.99 and 0.999, with the warm-up the training package uses; `d/w` sets its constant). One process runs on one
 * core, so two recipes can run side by side on a 2-core machine. `--cooldown` decays the rate
 * linearly to 0 over the second half of the steps; `--g-lr` gives G its own rate (default: --lr);
 * `--objective leastSquares` trains with LSGAN's loss instead of cross-entropy;
 * `--real-label` is the target for real images in D's loss (default 0.9, the earlier preset's; 1 = no smoothing, the `default` preset's).
 */
import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '@distgan/mnist';
import { computeToArray, fillNoise, modelVariant } from '@distgan/models';
import { validateAdamConfig, type AdamConfig } from '@distgan/optim';
import { randomStream } from '@distgan/rng';
import { selectBackend } from '@distgan/runtime';
import {
  emaDecayAt,
  GanNetworks,
  LocalExecutor,
  makeRunConfig,
  ShardComputer,
  trainStep,
  TrainingState,
  validateRunConfig,
  type RunConfig,
} from '@distgan/training';
import { loadOrTrainClassifier, QualityEvaluator, toUnitRange } from '@distgan/eval';
import { toolArgs } from './tool-args.js';

const USAGE = `usage: npm run sweep -- [--lr 2e-3] [--g-lr R] [--beta1 0.5] [--beta2 0.999] [--batch-size 128]
  [--steps 3000] [--every 1000] [--samples 2000] [--cooldown] [--real-label 0.9] [--decays 0.99,0.999]
  [--objective crossEntropy|leastSquares] [--model NAME] [--backend auto|node|wasm|cpu]

Trains one recipe in this process and prints, every --every steps, one JSON line with the
classifier score and Frechet distance of G and of its moving averages (docs/sample-quality.md).
`;
const { values } = toolArgs(USAGE, {
  options: {
    lr: { type: 'string', default: '2e-3' },
    'g-lr': { type: 'string' },
    'real-label': { type: 'string', default: '0.9' },
    beta1: { type: 'string', default: '0.5' },
    beta2: { type: 'string', default: '0.999' },
    'batch-size': { type: 'string', default: '128' },
    steps: { type: 'string', default: '3000' },
    every: { type: 'string', default: '1000' },
    samples: { type: 'string', default: '2000' },
    backend: { type: 'string', default: 'auto' },
    cooldown: { type: 'boolean', default: false },
    model: { type: 'string', default: 'mlp' },
    decays: { type: 'string', default: '0.99,0.999' },
    objective: { type: 'string', default: 'crossEntropy' },
  },
});
const number = (name: string, text: string | undefined) => {
  const v = Number(text);
  if (Number.isFinite(v) && v > 0) return v;
  process.stderr.write(`sweep: --${name} must be a positive number, got "${text}"\n`);
  return process.exit(2);
};
const lr = number('lr', values.lr);
const gLr = values['g-lr'] === undefined ? lr : number('g-lr', values['g-lr']);
// Negative beta1 is negative momentum (Gidel et al. 2019), which can damp the oscillation of alternating updates.
const beta1 = Number(values.beta1);
const beta2 = Number(values.beta2);
try {
  validateAdamConfig({ learningRate: Math.max(lr, gLr), beta1, beta2, epsilon: 1e-8 }, 'sweep: --beta1 / --beta2');
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const batchSize = number('batch-size', values['batch-size']);
const steps = number('steps', values.steps);
const every = number('every', values.every);
const n = number('samples', values.samples);
const realLabel = number('real-label', values['real-label']);
if (realLabel > 1) {
  process.stderr.write(`sweep: --real-label must be in (0, 1], got ${realLabel}\n`);
  process.exit(2);
}

const model = (() => {
  try {
    return modelVariant(values.model ?? 'mlp');
  } catch (err) {
    process.stderr.write(`sweep: --model: ${(err as Error).message}\n`);
    return process.exit(2);
  }
})();
await selectBackend(values.backend as 'auto');
const data = loadMnist();
const testSet = loadMnist({ split: 'test' });
const { classifier } = await loadOrTrainClassifier({ trainSet: data, testSet, log: (m) => process.stderr.write(`${m}\n`) });
const evaluator = new QualityEvaluator(classifier, testSet);
const base = { ...makeRunConfig('default', { shards: 1, steps, batchSize }), model };
// The optimisers read their rate from these objects at every step, so --cooldown can change it.
const dAdam: { -readonly [K in keyof AdamConfig]: AdamConfig[K] } = { ...base.dAdam, learningRate: lr, beta1, beta2 };
const gAdam: { -readonly [K in keyof AdamConfig]: AdamConfig[K] } = { ...base.gAdam, learningRate: gLr, beta1, beta2 };
// The averages are kept here, several at once, so the state keeps none.
const objective = values.objective as NonNullable<RunConfig['objective']>;
const config: RunConfig = { ...base, dAdam, gAdam, realLabel, gEmaDecay: null, objective };
validateRunConfig(config);
const state = new TrainingState(config);
const computer = new ShardComputer(config, data);
const executor = new LocalExecutor(computer);
const nets = new GanNetworks(config.model);
// "0.999" is TensorFlow's warm-up (1 + t) / (10 + t); "0.9999/3" replaces its 10 by 3.
const decays = (values.decays ?? '').split(',').map((text) => {
  const [d = Number.NaN, w = 10] = text.split('/').map(Number);
  if (d > 0 && d < 1 && w > 1) return { label: text, decay: d, warmup: w };
  process.stderr.write(`sweep: --decays must be numbers in (0, 1), each optionally /warm-up (> 1), got "${text}"\n`);
  return process.exit(2);
});
const averages = decays.map(() => Float32Array.from(state.gWeights));
const noise = fillNoise(config.model.noise, randomStream(7, 'sweep'), 0, n);

function score(weights: Float32Array): { classifierScore: number; frechetDistance: number; maxClassShare: number } {
  nets.load('G', 0, weights);
  const images = computeToArray(() => nets.generate(noise, n));
  const m = evaluator.evaluate(toUnitRange(images, config.model.pixelRange), n);
  return { classifierScore: +m.classifierScore.toFixed(3), frechetDistance: +m.frechetDistance.toFixed(2), maxClassShare: +m.maxClassShare.toFixed(3) };
}

const started = performance.now();
for (let s = 1; s <= steps; s++) {
  if (values.cooldown) {
    const left = Math.min(1, (steps - s) / (steps / 2));
    dAdam.learningRate = lr * left;
    gAdam.learningRate = gLr * left;
  }
  await trainStep(state, executor, data.count);
  decays.forEach(({ decay, warmup }, k) => {
    const d = emaDecayAt(decay, s, warmup);
    const average = averages[k]!;
    const w = state.gWeights;
    for (let i = 0; i < average.length; i++) average[i] = d * average[i]! + (1 - d) * w[i]!;
  });
  if (s % every === 0 || s === steps) {
    const line = {
      model: values.model,
      lr,
      gLr,
      beta1,
      beta2,
      cooldown: values.cooldown === true,
      realLabel,
      objective,
      batchSize,
      step: s,
      seconds: Math.round((performance.now() - started) / 1000),
      g: score(state.gWeights),
      ...Object.fromEntries(decays.map((d, k) => [`average${d.label}`, score(averages[k]!)])),
      tensors: tf.memory().numTensors,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}
computer.dispose();
nets.dispose();
classifier.dispose();
