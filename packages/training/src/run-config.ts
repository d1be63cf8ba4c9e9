import { classConditional, configHash, DEFAULT_MODEL, denseNetwork, SEED_MODEL, validateModelConfig, type GanModelConfig } from '@distgan/models';
import type { GanObjective } from '@distgan/losses';
import { TF1_ADAM_DEFAULTS, validateAdamConfig, type AdamConfig } from '@distgan/optim';

/** The tutorial's stop rule: stop when lo < D(G(z)) of one probe sample < hi and step > afterStep. */
export interface StopRule {
  readonly dFakeMin: number;
  readonly dFakeMax: number;
  readonly afterStep: number;
}

/** Everything that determines the trained weights. Equal configs give bit-identical weights. */
export interface RunConfig {
  readonly preset: PresetName;
  readonly model: GanModelConfig;
  readonly dAdam: AdamConfig;
  readonly gAdam: AdamConfig;
  readonly batchSize: number;
  /** Fixed logical shards per batch; independent of how many workers run them. */
  readonly shards: number;
  readonly steps: number;
  readonly seed: number;
  /** Target for real images in D's loss (1 = no label smoothing). */
  readonly realLabel: number;
  /** The loss (`@distgan/losses`); absent: cross-entropy, the tutorial's (and old configs keep their hashes). */
  readonly objective?: GanObjective;
  readonly stopRule: StopRule | null;
  /**
   * Decay of an exponential moving average of G's weights, kept beside G and used for samples,
   * evaluation and the exported generator (null: those use G itself). Averaging smooths the
   * pixel noise that the last few updates leave in an MLP generator's output.
   */
  readonly gEmaDecay: number | null;
}

export type PresetName = 'seed' | 'default' | 'tiny';
export const PRESET_NAMES: readonly PresetName[] = ['seed', 'default', 'tiny'];

/** Run options a preset sets and the command line may override. */
export interface RunPreset extends RunConfig {
  /** Write a sample grid every N steps (seed: every iteration, like the tutorial's images). */
  readonly sampleEvery: number;
}

const SEED: RunPreset = {
  preset: 'seed',
  model: SEED_MODEL,
  dAdam: TF1_ADAM_DEFAULTS,
  gAdam: TF1_ADAM_DEFAULTS,
  batchSize: 128,
  shards: 4,
  steps: 50,
  seed: 1,
  realLabel: 1,
  stopRule: { dFakeMin: 0.45, dFakeMax: 0.55, afterStep: 8 },
  gEmaDecay: null,
  sampleEvery: 1,
};

/**
 * Chosen by measurement (`npm run sweep`; every sweep is in docs/sample-quality.md): for the unconditional MLP at
 * 3,000 steps, rate 2e-3 at B = 128 scored best of 2e-4 to 3e-3 and B = 64 to 256 (beta2 0.99
 * tied; a slower G and a decay to 0 did worse), and the moving average of G cut the Frechet
 * distance by more than half. With the class code, 1e-3 and 2e-3 tie on score at 6,000 steps
 * (9.21 and 9.22) but 1e-3 halves the distance (2.87 vs 5.35), and 2e-3's rises after 5,000;
 * 1.5e-3 (without label smoothing) rose after 6,000 too (3.10 at 5,000, 3.43 at 7,000).
 */
const DEFAULT_ADAM: AdamConfig = { learningRate: 1e-3, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 };

const DEFAULT: RunPreset = {
  preset: 'default',
  // Conditioned on the digit (a one-hot code in G's and D's input, the class drawn uniformly):
  // at 3,000 steps its moving average scored 8.67 / 5.47 where the same MLP without the code
  // scored 7.19 / 10.4 (docs/sample-quality.md).
  model: classConditional(DEFAULT_MODEL, 10),
  dAdam: DEFAULT_ADAM,
  gAdam: DEFAULT_ADAM,
  batchSize: 128,
  // One shard per local worker per phase: the fewest messages for `npm start`'s two workers.
  shards: 2,
  // The Frechet distance keeps falling with more steps and reaches 3x the real train-vs-test
  // distance (1.108) at 18,000 (10,000 samples: 1.72 at 10,000, 1.17 at 16,000, 1.09 at 18,000),
  // which `npm start` trains in about 12 minutes on 2 cores with tfjs-node, 20 on wasm (docs/sample-quality.md).
  // `--steps 10000` is the fallback for a slower machine: 9.47 / 1.72 in 12 minutes.
  steps: 18000,
  seed: 1,
  // No label smoothing: with it the same run stood at 2.87 at 6,000 steps (2.64 without).
  realLabel: 1,
  stopRule: null,
  gEmaDecay: 0.999,
  sampleEvery: 100,
};

/** A few thousand parameters: for the many process-level tests, not for pictures. */
const TINY: RunPreset = {
  preset: 'tiny',
  model: {
    ...SEED_MODEL,
    noise: { distribution: 'uniform', size: 8, min: 0, max: 1 },
    generator: denseNetwork(8, [
      [16, 'tanh'],
      [784, 'sigmoid'],
    ]),
    discriminator: denseNetwork(784, [
      [16, 'tanh'],
      [1, 'linear'],
    ]),
  },
  dAdam: TF1_ADAM_DEFAULTS,
  gAdam: TF1_ADAM_DEFAULTS,
  batchSize: 32,
  shards: 4,
  steps: 6,
  seed: 1,
  realLabel: 1,
  stopRule: null,
  // On in the test preset so that every process-level test (resume, faults) covers the average.
  gEmaDecay: 0.9,
  sampleEvery: 0,
};

export const PRESETS: Readonly<Record<PresetName, RunPreset>> = { seed: SEED, default: DEFAULT, tiny: TINY };

export function parsePresetName(value: string): PresetName {
  if ((PRESET_NAMES as readonly string[]).includes(value)) return value as PresetName;
  throw new Error(`unknown preset "${value}": expected one of ${PRESET_NAMES.join(', ')}`);
}

/** What a run may change of its preset: the loop's sizes, and the model or objective (`--model`, `--objective`). */
export type RunOverrides = Partial<Pick<RunConfig, 'batchSize' | 'shards' | 'steps' | 'seed' | 'model' | 'objective'>>;

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!(Number.isInteger(value) && value >= 1 && value <= max)) throw new Error(`${name} must be an integer in [1, ${max}], got ${value}`);
}

/** Validates a run config; throws one message listing the problem. */
export function validateRunConfig(config: RunConfig): void {
  validateModelConfig(config.model);
  validateAdamConfig(config.dAdam, "D's Adam");
  validateAdamConfig(config.gAdam, "G's Adam");
  positiveInteger('batch size', config.batchSize, 65_536);
  positiveInteger('steps', config.steps);
  positiveInteger('shards', config.shards, 4096);
  if (config.shards > config.batchSize) throw new Error(`shards (${config.shards}) cannot exceed the batch size (${config.batchSize})`);
  if (!(Number.isSafeInteger(config.seed) && config.seed >= 0)) throw new Error(`seed must be a non-negative integer, got ${config.seed}`);
  if (config.objective !== undefined && !(['crossEntropy', 'leastSquares'] as const).includes(config.objective))
    throw new Error(`objective must be crossEntropy or leastSquares, got ${String(config.objective)}`);
  if (config.gEmaDecay !== null && !(config.gEmaDecay >= 0 && config.gEmaDecay < 1))
    throw new Error(`gEmaDecay must be null or in [0, 1), got ${config.gEmaDecay}`);
}

/** A preset with command-line overrides, validated. */
export function makeRunConfig(preset: PresetName, overrides: RunOverrides = {}): RunConfig {
  const base = PRESETS[preset];
  const { sampleEvery: _sampleEvery, ...config } = { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  validateRunConfig(config);
  return config;
}

/** Hash compared in the worker handshake: same hash, same computation. */
export function runConfigHash(config: RunConfig): string {
  return configHash(config);
}

/**
 * What a checkpoint of the run fits: the run config's hash without its length. No step's
 * arithmetic reads `steps` (only the loop's end does), so a run's checkpoint can continue it to
 * more steps, bit for bit as if it had been started with them (`--resume --steps N`).
 */
export function checkpointKey(config: RunConfig): string {
  return configHash({ ...config, steps: 0 });
}
