export {
  PRESETS,
  PRESET_NAMES,
  makeRunConfig,
  parsePresetName,
  runConfigHash,
  checkpointKey,
  validateRunConfig,
  type PresetName,
  type RunConfig,
  type RunOverrides,
  type RunPreset,
  type StopRule,
} from './run-config.js';
export { batchIndices, fakeClasses, noiseStream, shardRange, PHASES, type Phase, type ShardRange } from './batch.js';
export { GanNetworks, type NetworkName } from './networks.js';
export { ShardComputer, checkDatasetFits, type ShardComputerOptions, type RealShare, type ShardResult, type ShardStats, type ShardTask } from './shard.js';
export { ShardOrderedSum } from './accumulate.js';
export { TrainingState, emaDecayAt, type TrainingStateData } from './state.js';
export { trainStep, planTasks, planUpcoming, UnusableGradientError, type PhaseStats, type StepResult } from './step.js';
export { PhaseAbortedError, type ExecutorStepStats, type PhasePlan, type ShardExecutor } from './executor.js';
export {
  ShardGraphs,
  shardGraphsWanted,
  SHARD_GRAPHS_ENV,
  type ShardGradient,
  type ShardGraphCompiler,
  type ShardGraphKind,
  type ShardRows,
} from './graph-shards.js';
export { GraphSession } from './graph-session.js';
export { LocalExecutor } from './local-executor.js';
export { defaultSampleCount, probeSample, sampleNoise } from './samples.js';
