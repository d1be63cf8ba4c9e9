import { quantizedDropoutRate } from './dropout.js';
import { layerShapes, type ExampleShape } from './spec.js';

export type Activation = 'linear' | 'tanh' | 'sigmoid' | 'relu' | 'leakyRelu';

/**
 * A fully connected layer on a flat input. `kind` may be left out: MLP configs written before
 * the other layer kinds existed stay valid and keep their config hashes (and so their run dirs).
 */
export interface DenseLayer {
  readonly kind?: 'dense';
  readonly units: number;
  readonly activation: Activation;
}

/** Flat input to an image of [height, width, channels] (sizes must match). */
export interface ReshapeLayer {
  readonly kind: 'reshape';
  readonly shape: readonly [number, number, number];
}

/** A stride-1 convolution with 'same' padding and an odd square kernel, on an image. */
export interface ConvLayer {
  readonly kind: 'conv';
  readonly filters: number;
  readonly kernel: number;
  readonly activation: Activation;
}

/** Nearest-neighbour 2x upsampling of an image. */
export interface UpsampleLayer {
  readonly kind: 'upsample';
}

/** 2x2 average pooling (stride 2) of an image with even sides. */
export interface AvgPoolLayer {
  readonly kind: 'avgPool';
}

/** An image back to a flat vector. */
export interface FlattenLayer {
  readonly kind: 'flatten';
}

export type Layer = DenseLayer | ReshapeLayer | ConvLayer | UpsampleLayer | AvgPoolLayer | FlattenLayer;

/** A feed-forward network: `inputSize` floats in, a flat vector out (images are internal). */
export interface NetworkConfig {
  readonly inputSize: number;
  readonly layers: readonly Layer[];
  /**
   * A projection discriminator (Miyato & Koyama 2018) when set: the input's last `classes`
   * columns are a one-hot class code y, and the output (one linear unit) gains the inner product
   * of y's learned embedding (a `classes` x h matrix `v`, the last parameter) with h, the last
   * hidden layer's output. The layers still see the whole input, code included. Absent: a plain
   * network (old configs keep their hashes).
   */
  readonly projection?: { readonly classes: number };
  /**
   * Inverted dropout on every hidden layer's output while training (discriminator only; dense
   * layers only): each unit is zeroed with probability `rate` and the others scaled by 1/(1 -
   * rate), from masks the trainer draws per row (`fillDropoutMask`), so a shard's masks do not
   * depend on which worker computes it. Absent: no dropout (old configs keep their hashes).
   */
  readonly dropout?: number;
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
  readonly generator: NetworkConfig;
  readonly discriminator: NetworkConfig;
  readonly initializer: Initializer;
  /** Slope of leakyRelu for x < 0. */
  readonly leakyReluAlpha: number;
  /** Range real images are scaled to; should match the generator's output activation. */
  readonly pixelRange: { readonly min: number; readonly max: number };
  /**
   * A class-conditional GAN (Mirza & Osindero 2014) when set: a one-hot code of the row's class
   * is appended to G's noise and to D's input (real images with their labels, fakes with the
   * class they were drawn for), so G's input is noise.size + classes wide and D's is the image
   * size + classes. Drawing the class uniformly makes G an ordinary MNIST sampler whose latent
   * has a categorical part. Absent: unconditional (and old configs keep their hashes).
   */
  readonly classes?: number;
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
 * A recipe that draws digits (docs/sample-quality.md): LeakyReLU MLPs, z ~ N(0,1) of
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

/** Sizes of `upsamplingGenerator`: noise -> dense 7x7xmap -> upsample, conv -> upsample, conv -> 28x28x1. */
export interface UpsamplingGeneratorSizes {
  readonly noiseSize: number;
  /** Channels of the dense 7x7 map. */
  readonly mapChannels: number;
  /** Filters of the 3x3 conv at 14x14. */
  readonly hiddenFilters: number;
  /** Kernel of the last conv, to one channel at 28x28. */
  readonly outputKernel: number;
  readonly outputActivation: Activation;
}

/** A DCGAN-style generator of 28x28 images (LeakyReLU inside), flat in and flat out. */
export function upsamplingGenerator(sizes: UpsamplingGeneratorSizes): NetworkConfig {
  return {
    inputSize: sizes.noiseSize,
    layers: [
      { kind: 'dense', units: 7 * 7 * sizes.mapChannels, activation: 'leakyRelu' },
      { kind: 'reshape', shape: [7, 7, sizes.mapChannels] },
      { kind: 'upsample' },
      { kind: 'conv', filters: sizes.hiddenFilters, kernel: 3, activation: 'leakyRelu' },
      { kind: 'upsample' },
      { kind: 'conv', filters: 1, kernel: sizes.outputKernel, activation: sizes.outputActivation },
      { kind: 'flatten' },
    ],
  };
}

/**
 * A discriminator of 28x28 images: two (3x3 conv, 2x2 average pool) blocks with `filters`, an
 * optional dense LeakyReLU layer of `hiddenUnits`, then one logit.
 */
export function poolingDiscriminator(filters: readonly [number, number], hiddenUnits?: number): NetworkConfig {
  return {
    inputSize: 784,
    layers: [
      { kind: 'reshape', shape: [28, 28, 1] },
      { kind: 'conv', filters: filters[0], kernel: 3, activation: 'leakyRelu' },
      { kind: 'avgPool' },
      { kind: 'conv', filters: filters[1], kernel: 3, activation: 'leakyRelu' },
      { kind: 'avgPool' },
      { kind: 'flatten' },
      ...(hiddenUnits === undefined ? [] : [{ kind: 'dense', units: hiddenUnits, activation: 'leakyRelu' } as const]),
      { kind: 'dense', units: 1, activation: 'linear' },
    ],
  };
}

/**
 * A small convolutional GAN without batch norm (so shards stay independent): G upsamples a dense
 * 7x7x32 map twice with 3x3 convs; D mirrors it with 3x3 convs and 2x2 average pooling. About
 * twice the multiply-adds per image of `DEFAULT_MODEL`'s MLPs (about 4x the time on wasm, where
 * convolutions run less efficiently than matMuls) with a sixth of their parameters.
 */
export const CONV_MODEL: GanModelConfig = {
  noise: { distribution: 'normal', size: 100, mean: 0, std: 1 },
  generator: upsamplingGenerator({ noiseSize: 100, mapChannels: 32, hiddenFilters: 16, outputKernel: 3, outputActivation: 'tanh' }),
  discriminator: poolingDiscriminator([16, 32]),
  initializer: 'glorotUniform',
  leakyReluAlpha: 0.2,
  pixelRange: { min: -1, max: 1 },
};

/** Checks the shapes fit together; throws a message naming the problems. */
export function validateModelConfig(config: GanModelConfig): void {
  const problems: string[] = [];
  const g = config.generator;
  const d = config.discriminator;
  const classes = config.classes ?? 0;
  if (config.classes !== undefined) {
    if (!(Number.isInteger(classes) && classes >= 2 && classes <= 1024)) problems.push(`classes must be an integer in [2, 1024], got ${config.classes}`);
    // The code is appended to a flat input; an image-first D would need another way in.
    if (d.layers[0] && (d.layers[0].kind ?? 'dense') !== 'dense') problems.push('a class-conditional discriminator must start with a dense layer');
  }
  if (g.projection) problems.push('only the discriminator can have a projection');
  // G's samples and exported model would run without the masks it was trained with.
  if (g.dropout !== undefined) problems.push('only the discriminator can have dropout');
  if (d.dropout !== undefined) {
    if (!(d.dropout > 0 && d.dropout < 1)) problems.push(`dropout rate must be in (0, 1), got ${d.dropout}`);
    else if (!(quantizedDropoutRate(d.dropout) > 0 && quantizedDropoutRate(d.dropout) < 1))
      problems.push(`dropout rate ${d.dropout} rounds to ${quantizedDropoutRate(d.dropout)} in 1/256 steps`);
    if (d.layers.some((layer) => (layer.kind ?? 'dense') !== 'dense')) problems.push('dropout needs a discriminator of dense layers only');
  }
  if (d.projection && d.projection.classes !== config.classes)
    problems.push(`the discriminator's projection has ${d.projection.classes} classes, the model ${config.classes ?? 'none'}`);
  const codeWidth = Number.isInteger(classes) ? classes : 0;
  if (g.inputSize !== config.noise.size + codeWidth) {
    problems.push(
      codeWidth
        ? `generator input ${g.inputSize} != noise size ${config.noise.size} + ${codeWidth} classes`
        : `generator input ${g.inputSize} != noise size ${config.noise.size}`,
    );
  }
  const outputs: Partial<Record<'generator' | 'discriminator', ExampleShape>> = {};
  for (const [name, net] of [
    ['generator', g],
    ['discriminator', d],
  ] as const) {
    if (net.layers.length === 0) {
      problems.push(`${name} has no layers`);
      continue;
    }
    try {
      const out = layerShapes(net).at(-1)!;
      if (out.length === 3) problems.push(`${name} ends in an image; add a flatten layer`);
      else outputs[name] = out;
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  const imageSize = d.inputSize - codeWidth;
  if (outputs.generator && outputs.generator[0] !== imageSize) {
    problems.push(
      codeWidth
        ? `generator output ${outputs.generator[0]} != discriminator input ${d.inputSize} - ${codeWidth} classes`
        : `generator output ${outputs.generator[0]} != discriminator input ${d.inputSize}`,
    );
  }
  if (outputs.discriminator && outputs.discriminator[0] !== 1) problems.push('discriminator must end in 1 unit (a logit)');
  if (problems.length > 0) throw new Error(`invalid model config: ${problems.join('; ')}`);
}
