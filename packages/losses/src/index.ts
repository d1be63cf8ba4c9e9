export { sigmoidCrossEntropy, sigmoidCrossEntropyValue, reduce, type Reduction } from './sigmoid-ce.js';
export {
  discriminatorLoss,
  discriminatorLossTerm,
  discriminatorScore,
  generatorLoss,
  type DiscriminatorLoss,
  type GanLossOptions,
  type GanObjective,
} from './gan.js';
