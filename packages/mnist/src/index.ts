export { MnistFormatError, type MnistErrorCode } from './errors.js';
export {
  IMAGES_MAGIC,
  LABELS_MAGIC,
  parseIdxImages,
  parseIdxLabels,
  encodeIdxImages,
  encodeIdxLabels,
  readMaybeGzip,
  type IdxImages,
  type IdxLabels,
} from './idx.js';
export { MnistDataset, loadMnist, defaultMnistDir, UNIT_SCALE, type LoadMnistOptions, type MnistSplit, type PixelScale } from './dataset.js';
