export {
  MnistClassifier,
  DEFAULT_CLASSIFIER,
  loadOrTrainClassifier,
  defaultCacheDir,
  type ClassifierConfig,
  type ClassifierOutputs,
  type LoadClassifierOptions,
} from './classifier.js';
export { QualityEvaluator, classifierScore, classCoverage, predictedClasses, toUnitRange, type QualityMetrics } from './quality.js';
export { frechetDistance, meanAndCovariance, sqrtPsd, symmetricEigen } from './linalg.js';
export { generatedImages } from './run-generator.js';
