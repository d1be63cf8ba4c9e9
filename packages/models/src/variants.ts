import { classConditional } from './conditioning.js';
import { CONV_MODEL, DEFAULT_MODEL, poolingDiscriminator, upsamplingGenerator } from './presets.js';
import type { DenseLayer, GanModelConfig } from './types.js';

// Models besides the presets', by name: the coordinator's --model and npm run sweep take them.
// docs/sample-quality.md has what each scored.

/** The MLP with twice the width and one more hidden layer each (G 256-512-1024, D 1024-512-256). */
const MLP_LARGE: GanModelConfig = {
  ...DEFAULT_MODEL,
  generator: {
    inputSize: 100,
    layers: [...[256, 512, 1024].map((units): DenseLayer => ({ units, activation: 'leakyRelu' })), { units: 784, activation: 'tanh' }],
  },
  discriminator: {
    inputSize: 784,
    layers: [...[1024, 512, 256].map((units): DenseLayer => ({ units, activation: 'leakyRelu' })), { units: 1, activation: 'linear' }],
  },
};
/** CONV_MODEL with a dense hidden layer of 256 between D's convolutions and its logit: more D capacity, little compute. */
const CONV_DENSE_D: GanModelConfig = { ...CONV_MODEL, discriminator: poolingDiscriminator([16, 32], 256) };
/** CONV_DENSE_D with a wider G: a 7x7x64 map, 32 filters at 14x14, a 5x5 conv to the image. */
const CONV_WIDE: GanModelConfig = {
  ...CONV_DENSE_D,
  generator: upsamplingGenerator({ noiseSize: 100, mapChannels: 64, hiddenFilters: 32, outputKernel: 5, outputActivation: 'tanh' }),
};
/** The MLP conditioned on the digit: a one-hot class code appended to G's noise and D's image. */
const CONDITIONAL_MLP = classConditional(DEFAULT_MODEL, 10);
/** CONDITIONAL_MLP with a wider G (256-512-1024, the Keras MNIST GAN's), D unchanged. */
const CONDITIONAL_WIDE_G = classConditional({ ...DEFAULT_MODEL, generator: MLP_LARGE.generator }, 10);
/** CONDITIONAL_MLP with D half as wide (256-128): about 0.65x the multiply-adds of a training step. */
const NARROW_D: GanModelConfig['discriminator'] = {
  inputSize: 784,
  layers: [...[256, 128].map((units): DenseLayer => ({ units, activation: 'leakyRelu' })), { units: 1, activation: 'linear' }],
};
/** NARROW_D with G 256-256: about 0.46x the preset's multiply-adds per step. */
const NARROW_G: GanModelConfig['generator'] = {
  inputSize: 100,
  layers: [...[256, 256].map((units): DenseLayer => ({ units, activation: 'leakyRelu' })), { units: 784, activation: 'tanh' }],
};
// hybrid: the MLP generator against the convolutional discriminator.
export const MODEL_VARIANTS: Readonly<Record<string, GanModelConfig>> = {
  mlp: DEFAULT_MODEL,
  'mlp-large': MLP_LARGE,
  conv: CONV_MODEL,
  'conv-dense-d': CONV_DENSE_D,
  'conv-wide': CONV_WIDE,
  hybrid: { ...DEFAULT_MODEL, discriminator: CONV_MODEL.discriminator },
  'mlp-conditional': CONDITIONAL_MLP,
  'mlp-conditional-wide-g': CONDITIONAL_WIDE_G,
  // Dropout 0.3 on D's hidden layers, as the Keras MNIST GAN examples use.
  'mlp-conditional-dropout': { ...CONDITIONAL_MLP, discriminator: { ...CONDITIONAL_MLP.discriminator, dropout: 0.3 } },
  'mlp-conditional-narrow-d': classConditional({ ...DEFAULT_MODEL, discriminator: NARROW_D }, 10),
  'mlp-conditional-narrow': classConditional({ ...DEFAULT_MODEL, generator: NARROW_G, discriminator: NARROW_D }, 10),
  // The same with a projection discriminator (Miyato & Koyama 2018): the code also meets D's last hidden layer.
  'mlp-projection': classConditional(DEFAULT_MODEL, 10, { projection: true }),
};

/** The model variant `name`; an error listing the names otherwise. */
export function modelVariant(name: string): GanModelConfig {
  const model = MODEL_VARIANTS[name];
  if (!model) throw new Error(`unknown model "${name}": expected one of ${Object.keys(MODEL_VARIANTS).join(', ')}`);
  return model;
}
