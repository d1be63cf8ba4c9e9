export { Worker, type WorkerOptions, type WorkerOutcome } from './worker.js';
export { buildCommand as workerCommand } from './command.js';
