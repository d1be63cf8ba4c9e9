export { Worker, type WorkerOptions, type WorkerOutcome } from './worker.js';
