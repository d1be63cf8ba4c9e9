export { sigmoidCrossEntropy, sigmoidCrossEntropyValue, reduce, type Reduction } from './sigmoid-ce.js';
export { discriminatorLoss, discriminatorScore, generatorLoss, type DiscriminatorLoss, type GanLossOptions, type GanObjective } from './gan.js';
