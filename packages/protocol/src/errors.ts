/**
 * One table of protocol failures: each has a stable code for logs and tests and a WebSocket close
 * code (4000-4999 is the application range) so the peer learns exactly why it was dropped.
 */
export const PROTOCOL_ERRORS = {
  BAD_FRAME: { closeCode: 4000, summary: 'frame is not a binary msgpack message' },
  UNKNOWN_TYPE: { closeCode: 4001, summary: 'unknown message type' },
  BAD_FIELD: { closeCode: 4002, summary: 'a field is missing or has the wrong kind' },
  PROTOCOL_MISMATCH: { closeCode: 4003, summary: 'protocol versions differ' },
  CONFIG_MISMATCH: { closeCode: 4004, summary: 'run config hashes differ' },
  DATASET_MISMATCH: { closeCode: 4005, summary: 'dataset fingerprints differ' },
  BAD_GRADIENT_LENGTH: { closeCode: 4006, summary: 'gradient length differs from the parameter count' },
  NON_FINITE: { closeCode: 4007, summary: 'gradient or statistic is NaN or infinite' },
  UNEXPECTED_MESSAGE: { closeCode: 4008, summary: 'message not valid in this state' },
  NOT_IN_FLIGHT: { closeCode: 4009, summary: 'result for a task this worker was never given' },
  HANDSHAKE_TIMEOUT: { closeCode: 4010, summary: 'no hello within the handshake timeout' },
  WORKER_FAILED: { closeCode: 4011, summary: 'the worker failed to compute a task' },
  ERROR_FLOOD: { closeCode: 4012, summary: 'more error messages on one connection than a worker has reason to send' },
  OUT_OF_RANGE: { closeCode: 4013, summary: "a finite gradient value too large for the optimizer's state" },
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;

/** Close code sent when training ends normally. */
export const CLOSE_TRAINING_DONE = 1000;

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly closeCode: number;

  constructor(
    readonly code: ProtocolErrorCode,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.closeCode = PROTOCOL_ERRORS[code].closeCode;
  }

  /** A WebSocket close reason: at most 123 UTF-8 bytes, as RFC 6455 allows. */
  get closeReason(): string {
    return truncateUtf8(this.message, 123);
  }
}

export function protocolError(code: ProtocolErrorCode, detail: string): ProtocolError {
  return new ProtocolError(code, detail);
}

/** The error code for a close code, or undefined for codes outside the table. */
export function codeForClose(closeCode: number): ProtocolErrorCode | undefined {
  return (Object.keys(PROTOCOL_ERRORS) as ProtocolErrorCode[]).find((code) => PROTOCOL_ERRORS[code].closeCode === closeCode);
}

export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let cut = maxBytes;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--; // do not split a character
  return bytes.subarray(0, cut).toString('utf8');
}
