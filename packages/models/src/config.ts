export type Activation = 'linear' | 'tanh' | 'sigmoid' | 'relu' | 'leakyRelu';

export interface DenseLayer {
  readonly units: number;
  readonly activation: Activation;
}

/** A multi-layer perceptron: `inputSize` floats in, the last layer's units out. */
export interface MlpConfig {
  readonly inputSize: number;
  readonly layers: readonly DenseLayer[];
}

export type NoiseConfig =
  | { readonly distribution: 'uniform'; readonly size: number; readonly min: number; readonly max: number }
  | { readonly distribution: 'normal'; readonly size: number; readonly mean: number; readonly std: number };

/**
 * `normalInvFanIn` is the tutorial's "xavier_initializer": normal(0, stddev = 1/fan_in).
 * `glorotUniform` is Keras's default: uniform(+-sqrt(6/(fan_in+fan_out))).
 */
export type Initializer = 'normalInvFanIn' | 'glorotUniform';

export interface GanModelConfig {
  readonly noise: NoiseConfig;
  readonly generator: MlpConfig;
  readonly discriminator: MlpConfig;
  readonly initializer: Initializer;
  /** Slope of leakyRelu for x < 0. */
  readonly leakyReluAlpha: number;
  /** Range real images are scaled to; should match the generator's output activation. */
  readonly pixelRange: { readonly min: number; readonly max: number };
}

/** The tutorial's model exactly: z(200) ~ U[0,1)*10; G 200-600 tanh-784 sigmoid; D 784-600 tanh-1. */
export const SEED_MODEL: GanModelConfig = {
  noise: { distribution: 'uniform', size: 200, min: 0, max: 10 },
  generator: {
    inputSize: 200,
    layers: [
      { units: 600, activation: 'tanh' },
      { units: 784, activation: 'sigmoid' },
    ],
  },
  discriminator: {
    inputSize: 784,
    layers: [
      { units: 600, activation: 'tanh' },
      { units: 1, activation: 'linear' },
    ],
  },
  initializer: 'normalInvFanIn',
  leakyReluAlpha: 0.2,
  pixelRange: { min: 0, max: 1 },
};

/**
 * A recipe that draws digits (see the README's quality notes): LeakyReLU MLPs, z ~ N(0,1) of
 * 100, Glorot-uniform init, images in [-1,1] with a tanh output.
 */
export const DEFAULT_MODEL: GanModelConfig = {
  noise: { distribution: 'normal', size: 100, mean: 0, std: 1 },
  generator: {
    inputSize: 100,
    layers: [
      { units: 256, activation: 'leakyRelu' },
      { units: 512, activation: 'leakyRelu' },
      { units: 784, activation: 'tanh' },
    ],
  },
  discriminator: {
    inputSize: 784,
    layers: [
      { units: 512, activation: 'leakyRelu' },
      { units: 256, activation: 'leakyRelu' },
      { units: 1, activation: 'linear' },
    ],
  },
  initializer: 'glorotUniform',
  leakyReluAlpha: 0.2,
  pixelRange: { min: -1, max: 1 },
};

/** Checks the shapes fit together; throws a message naming the first problem. */
export function validateModelConfig(config: GanModelConfig): void {
  const problems: string[] = [];
  const g = config.generator;
  const d = config.discriminator;
  if (g.inputSize !== config.noise.size) problems.push(`generator input ${g.inputSize} != noise size ${config.noise.size}`);
  const gOut = g.layers.at(-1)?.units;
  if (gOut !== d.inputSize) problems.push(`generator output ${gOut} != discriminator input ${d.inputSize}`);
  if (d.layers.at(-1)?.units !== 1) problems.push('discriminator must end in 1 unit (a logit)');
  for (const [name, net] of [['generator', g], ['discriminator', d]] as const) {
    if (net.layers.length === 0) problems.push(`${name} has no layers`);
    for (const layer of net.layers) if (!(Number.isInteger(layer.units) && layer.units > 0)) problems.push(`${name} layer units ${layer.units} is not a positive integer`);
  }
  if (problems.length > 0) throw new Error(`invalid model config: ${problems.join('; ')}`);
}
