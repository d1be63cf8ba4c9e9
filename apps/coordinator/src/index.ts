export { runCoordinator, type CoordinatorOptions, type RunSummary } from './run-coordinator.js';
export { startRemote, type Remote, type RemoteOptions, type RunView } from './remote.js';
export { planListen, type ListenPlan } from './server.js';
export { buildCommand as coordinatorCommand } from './command.js';
