export { Adam, TF1_ADAM_DEFAULTS, encodeAdamState, decodeAdamState, type AdamConfig, type AdamState } from './adam.js';
