export {
  selectBackend,
  parseBackendChoice,
  describeSelection,
  defaultBackendChoice,
  probeBackend,
  BACKEND_CHOICES,
  BACKEND_ENV,
  type BackendChoice,
  type BackendName,
  type BackendSelection,
} from './backend.js';
export { backendOption, integerArg } from './cli-args.js';
export { traceFromEnv, type Trace } from './trace.js';
export { relaxHeapGrowth, HEAP_GROWING_PERCENT } from './heap.js';
export { CpuClock } from './cpu-clock.js';
export { bridgeRemovedUtilFunctions, configureTensorFlow } from './node-compat.js';
