import type { Activation, GanModelConfig, NetworkConfig } from './types.js';

/** A network of dense layers, `[units, activation]` each, in order. */
export function denseNetwork(inputSize: number, layers: readonly (readonly [number, Activation])[]): NetworkConfig {
  return { inputSize, layers: layers.map(([units, activation]) => ({ units, activation })) };
}

/** The tutorial's model exactly: z(200) ~ U[0,1)*10; G 200-600 tanh-784 sigmoid; D 784-600 tanh-1. */
export const SEED_MODEL: GanModelConfig = {
  noise: { distribution: 'uniform', size: 200, min: 0, max: 10 },
  generator: denseNetwork(200, [
    [600, 'tanh'],
    [784, 'sigmoid'],
  ]),
  discriminator: denseNetwork(784, [
    [600, 'tanh'],
    [1, 'linear'],
  ]),
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
  generator: denseNetwork(100, [
    [256, 'leakyRelu'],
    [512, 'leakyRelu'],
    [784, 'tanh'],
  ]),
  discriminator: denseNetwork(784, [
    [512, 'leakyRelu'],
    [256, 'leakyRelu'],
    [1, 'linear'],
  ]),
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
