export {
  PROTOCOL_VERSION,
  WORKER_MESSAGE_TYPES,
  COORDINATOR_MESSAGE_TYPES,
  type Phase,
  type NetworkName,
  type WorkerInfo,
  type HelloMessage,
  type ReadyMessage,
  type ResultMessage,
  type ResultFileMessage,
  type WelcomeMessage,
  type SnapshotMessage,
  type SnapshotFileMessage,
  type TaskMessage,
  type DoneMessage,
  type ErrorMessage,
  type WorkerMessage,
  type CoordinatorMessage,
  type Message,
} from './messages.js';
export { PROTOCOL_ERRORS, CLOSE_TRAINING_DONE, ProtocolError, protocolError, codeForClose, type ProtocolErrorCode } from './errors.js';
export { encodeMessage, FrameBuffer, decodeFrame, decodeWorkerMessage, decodeCoordinatorMessage } from './codec.js';
export {
  validateWorkerMessage,
  validateCoordinatorMessage,
  validateGradient,
  resultFileName,
  firstNonFinite,
  firstOutOfRange,
  type WorkerMessageLimits,
} from './validate.js';

/** Largest frame a peer may send for a model with these parameter counts (ws `maxPayload`). */
export function maxFrameBytes(dParams: number, gParams: number): number {
  // One float32 array of the larger network plus generous room for the small fields.
  return 4 * Math.max(dParams, gParams) + 64 * 1024;
}
