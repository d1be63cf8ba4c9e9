export {
  Adam,
  TF1_ADAM_DEFAULTS,
  validateAdamConfig,
  encodeAdamState,
  decodeAdamState,
  type AdamConfig,
  type AdamState,
  type AdamKernel,
  type AdamOptions,
} from './adam.js';
export { MAX_MEAN_GRADIENT, shardGradientBound } from './gradient-bound.js';
