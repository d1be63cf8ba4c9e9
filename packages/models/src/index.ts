export {
  SEED_MODEL,
  DEFAULT_MODEL,
  CONV_MODEL,
  upsamplingGenerator,
  poolingDiscriminator,
  type UpsamplingGeneratorSizes,
  validateModelConfig,
  type Activation,
  type Layer,
  type DenseLayer,
  type ReshapeLayer,
  type ConvLayer,
  type UpsampleLayer,
  type AvgPoolLayer,
  type FlattenLayer,
  type NetworkConfig,
  type NoiseConfig,
  type Initializer,
  type GanModelConfig,
} from './config.js';
export { parameterSpec, parameterCount, layerShapes, shapeSize, type ParamSpec, type ExampleShape } from './spec.js';
export { initialSnapshot } from './init.js';
export { Network, type GradientFlow } from './network.js';
export { flattenTensors, unflattenToTensors, computeToArray, valuesView, tensorOfReusedMemory } from './tensor-memory.js';
export { canonicalJson, configHash, snapshotSha256 } from './hash.js';
export { fillNoise } from './noise.js';
export { fillDropoutMask, dropoutWidths, quantizedDropoutRate } from './dropout.js';
export { classConditional, imageSizeOf, withClassCode, balancedClasses, generatorInput } from './conditioning.js';
export { toLayersModel, layersModelFiles, loadLayersModelFiles, readLayersModelFiles, type LayersModelFiles } from './layers-export.js';
