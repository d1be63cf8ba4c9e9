export { sigmoidCrossEntropy, sigmoidCrossEntropyValue, reduce, type Reduction } from './sigmoid-ce.js';
export { discriminatorLoss, generatorLoss, type DiscriminatorLoss, type GanLossOptions } from './gan.js';
