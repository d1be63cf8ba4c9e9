export { runCoordinator, type CoordinatorOptions, type RunSummary } from './trainer.js';
export { WorkerPool, type WorkerPoolOptions, type WorkerStatus } from './worker-pool.js';
export { startRemote, type Remote, type RemoteOptions, type RunView } from './remote.js';
export { startServer, checkListenPolicy, isAuthorized, isLoopbackAddress, readTlsFiles, type RunningServer, type ServerOptions } from './server.js';
export { CheckpointStore, CheckpointError, encodeCheckpoint, decodeCheckpoint, writeFileAtomic } from './checkpoint.js';
export { RunDirectory, defaultRunDir, type StepMetrics } from './run-dir.js';
