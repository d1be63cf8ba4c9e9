export { Worker } from './worker.js';
export type { WorkerOptions, WorkerOutcome } from './worker-options.js';
export { buildCommand as workerCommand } from './command.js';
