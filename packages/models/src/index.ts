export {
  SEED_MODEL,
  DEFAULT_MODEL,
  validateModelConfig,
  type Activation,
  type DenseLayer,
  type MlpConfig,
  type NoiseConfig,
  type Initializer,
  type GanModelConfig,
} from './config.js';
export { parameterSpec, parameterCount, type ParamSpec } from './spec.js';
export { initialSnapshot } from './init.js';
export { Mlp, flattenTensors, unflattenToTensors, computeToArray } from './network.js';
export { canonicalJson, configHash, snapshotSha256 } from './hash.js';
export { fillNoise } from './noise.js';
export { toLayersModel, layersModelFiles, loadLayersModelFiles, readLayersModelFiles, type LayersModelFiles } from './layers-export.js';
