export { SEED_MODEL, DEFAULT_MODEL, CONV_MODEL, denseNetwork, upsamplingGenerator, poolingDiscriminator, type UpsamplingGeneratorSizes } from './presets.js';
export { validateModelConfig } from './validate.js';
export type {
  Activation,
  Layer,
  DenseLayer,
  ReshapeLayer,
  ConvLayer,
  UpsampleLayer,
  AvgPoolLayer,
  FlattenLayer,
  NetworkConfig,
  NoiseConfig,
  Initializer,
  GanModelConfig,
} from './types.js';
export { parameterSpec, parameterCount, layerShapes, shapeSize, type ParamSpec, type ExampleShape } from './spec.js';
export { initialSnapshot } from './init.js';
export { Network } from './network.js';
export type { GradientFlow } from './layer-kernels.js';
export { flattenTensors, computeToArray, valuesView, tensorOfReusedMemory } from './tensor-memory.js';
export { canonicalJson, configHash, snapshotSha256 } from './hash.js';
export { fillNoise } from './noise.js';
export { fillDropoutMask, dropoutWidths, quantizedDropoutRate } from './dropout.js';
export { classConditional, imageSizeOf, withClassCode, balancedClasses, generatorInput } from './conditioning.js';
export { toLayersModel, layersModelFiles, loadLayersModelFiles, readLayersModelFiles, type LayersModelFiles } from './layers-export.js';
export { MODEL_VARIANTS, modelVariant } from './variants.js';
