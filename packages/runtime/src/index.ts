export {
  selectBackend,
  parseBackendChoice,
  describeSelection,
  defaultBackendChoice,
  nativeBackendRequired,
  probeBackend,
  BACKEND_CHOICES,
  BACKEND_ENV,
  type BackendChoice,
  type BackendOptions,
  type BackendName,
  type BackendSelection,
} from './backend.js';
export { backendOption, integerArg, logFormatOption, tokenOptions } from './cli-args.js';
export {
  formatLogLine,
  logFatal,
  logFormat,
  logLine,
  parseLogFormat,
  setLogFormat,
  LOG_FORMATS,
  LOG_FORMAT_ENV,
  type LogFormat,
  type LogLevel,
} from './log-line.js';
export { resolveToken, TOKEN_ENV, TOKEN_FILE_ENV } from './token.js';
export { traceFromEnv, type Trace } from './trace.js';
export { relaxHeapGrowth, HEAP_GROWING_PERCENT } from './heap.js';
export { CpuClock } from './cpu-clock.js';
export { backendTraits, type BackendTraits } from './backend-traits.js';
export { bridgeRemovedUtilFunctions, configureTensorFlow, environmentAsGiven, type TensorFlowThreads } from './node-compat.js';
