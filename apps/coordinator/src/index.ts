export { runCoordinator, type CoordinatorOptions, type RunSummary } from './trainer.js';
export { startRemote, type Remote, type RemoteOptions, type RunView } from './remote.js';
export { buildCommand as coordinatorCommand } from './command.js';
