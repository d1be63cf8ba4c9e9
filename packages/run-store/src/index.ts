export { runLayout, readRunConfig, type RunLayout } from './run-layout.js';
export { RunDirectory, defaultRunDir, type StepMetrics, type Evidence } from './run-dir.js';
export { CheckpointStore, CheckpointError, encodeCheckpoint, decodeCheckpoint, nonFiniteIn } from './checkpoint.js';
export { exportGenerator, loadExportedGenerator, drawImages, type ExportedGenerator } from './generator.js';
export { writeFileAtomic } from './atomic-file.js';
