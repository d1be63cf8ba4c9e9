import { protocolError } from './errors.js';
import { PROTOCOL_VERSION, type CoordinatorMessage, type ErrorMessage, type Phase, type ResultMessage, type WorkerMessage } from './messages.js';

/** What a result's gradient length must be, per phase (the D and G parameter counts), and how large its values may be. */
export interface WorkerMessageLimits {
  readonly dParams: number;
  readonly gParams: number;
  /**
   * The largest magnitude a gradient value may have (default: any finite value). A finite value
   * can still be too large for the optimizer: the coordinator sets the bound past which Adam's
   * float32 second moment would overflow (see `gradientBound` in @distgan/optim).
   */
  readonly gradientBound?: number;
}

type Fields = Record<string, unknown>;

function field(o: Fields, name: string, where = String(o.type)): unknown {
  if (!(name in o)) throw protocolError('BAD_FIELD', `${where}.${name} is missing`);
  return o[name];
}

/** `where`: the field's path before its name, for messages (the message type; `hello.worker` inside hello). */
function str(o: Fields, name: string, max = 1024, where = String(o.type)): string {
  const v = field(o, name, where);
  if (typeof v !== 'string' || v.length > max) throw protocolError('BAD_FIELD', `${where}.${name} must be a string of at most ${max} characters`);
  return v;
}

function int(o: Fields, name: string, min = 0, max = Number.MAX_SAFE_INTEGER, where = String(o.type)): number {
  const v = field(o, name, where);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw protocolError('BAD_FIELD', `${where}.${name} must be an integer in [${min}, ${max}]`);
  return v;
}

function finite(o: Fields, name: string): number {
  const v = field(o, name);
  if (typeof v !== 'number') throw protocolError('BAD_FIELD', `${String(o.type)}.${name} must be a number`);
  if (!Number.isFinite(v)) throw protocolError('NON_FINITE', `${String(o.type)}.${name} is ${v}`);
  return v;
}

function nonNegative(o: Fields, name: string): number {
  const v = finite(o, name);
  if (v < 0) throw protocolError('BAD_FIELD', `${String(o.type)}.${name} must not be negative, got ${v}`);
  return v;
}

function phase(o: Fields, name: string): Phase {
  const v = field(o, name);
  if (v !== 'D' && v !== 'G') throw protocolError('BAD_FIELD', `${String(o.type)}.${name} must be "D" or "G"`);
  return v;
}

function bytes(o: Fields, name: string): Uint8Array {
  const v = field(o, name);
  if (!(v instanceof Uint8Array)) throw protocolError('BAD_FIELD', `${String(o.type)}.${name} must be binary`);
  return v;
}

/** A Float32Array over wire bytes: a view when aligned, else one copy. */
export function float32View(raw: Uint8Array): Float32Array {
  if (raw.byteLength % 4 !== 0) throw protocolError('BAD_FIELD', `float array of ${raw.byteLength} bytes is not a multiple of 4`);
  if (raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  return new Float32Array(new Uint8Array(raw).buffer); // a real copy (Buffer#slice would be a view)
}

function uint32View(raw: Uint8Array): Uint32Array {
  if (raw.byteLength % 4 !== 0) throw protocolError('BAD_FIELD', `uint32 array of ${raw.byteLength} bytes is not a multiple of 4`);
  if (raw.byteOffset % 4 === 0) return new Uint32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  return new Uint32Array(new Uint8Array(raw).buffer);
}

/** The index of the first NaN or infinity, or -1. */
export function firstNonFinite(values: Float32Array): number {
  return firstOutOfRange(values, Number.POSITIVE_INFINITY);
}

/**
 * The index of the first value that is NaN, infinite or larger in magnitude than `bound`, or -1:
 * a received gradient against its bound, and a summed one (float64) before Adam takes it.
 */
export function firstOutOfRange(values: Float32Array | Float64Array, bound: number): number {
  // Eight at a time without a branch each: x * scale overflows to infinity for |x| beyond
  // `bound` (scale is rounded up, so a block is flagged for every such x and perhaps for one a hair
  // below, which the exact loop then clears), and infinity * 0 is NaN like NaN * 0, where a finite
  // product * 0 is +-0. 2.3x as fast as one test per value, and this runs over every snapshot a
  // worker receives and every gradient the coordinator receives.
  // Stryker disable next-line ConditionalExpression,UnaryOperator: a scale of 0 still makes NaN of NaN and infinity, a larger one flags more blocks for the exact loop: the same answers (tools/mutation/survivors.md)
  const scale = bound === Number.POSITIVE_INFINITY ? 1 : (Number.MAX_VALUE / bound) * (1 + 2 ** -20);
  const n = values.length;
  let i = 0;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: whatever the blocks leave, the exact loop below checks
  for (; i + 8 <= n; i += 8) {
    const zeroWhenInRange =
      values[i]! * scale * 0 +
      values[i + 1]! * scale * 0 +
      values[i + 2]! * scale * 0 +
      values[i + 3]! * scale * 0 +
      values[i + 4]! * scale * 0 +
      values[i + 5]! * scale * 0 +
      values[i + 6]! * scale * 0 +
      values[i + 7]! * scale * 0;
    // Stryker disable next-line ConditionalExpression: breaking always leaves every value to the exact loop
    if (zeroWhenInRange !== 0) break;
  }
  for (; i < n; i++) {
    const v = values[i]!;
    if (v - v !== 0 || v > bound || v < -bound) return i; // v - v is NaN for NaN and +-Infinity
  }
  return -1;
}

/** `sender`: who sent the message, so that the text reads the same on both sides of the connection. */
function protocolVersion(o: Fields, sender: 'worker' | 'coordinator'): number {
  const v = int(o, 'protocol', 0, 0xffff);
  if (v !== PROTOCOL_VERSION) {
    const receiver = sender === 'worker' ? 'coordinator' : 'worker';
    throw protocolError(
      'PROTOCOL_MISMATCH',
      `the ${sender} speaks protocol ${v}, the ${receiver} speaks ${PROTOCOL_VERSION}: run the same distgan version on both`,
    );
  }
  return v;
}

function errorMessage(o: Fields): ErrorMessage {
  return { type: 'error', code: str(o, 'code', 64), message: str(o, 'message', 4096) };
}

// Stryker disable next-line Regex: with the 64-character limit `str` enforces, either anchor alone means the same
const SHA256_HEX = /^[0-9a-f]{64}$/;
const FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

function sha(o: Fields, name: string): string {
  const v = str(o, name, 64);
  if (!SHA256_HEX.test(v)) throw protocolError('BAD_FIELD', `${String(o.type)}.${name} must be a SHA-256 hex string`);
  return v;
}

/**
 * A result's gradient bytes as float32, checked: as many as the phase's network has parameters,
 * every value finite and within the limits' bound. For a `resultFile` the receiver calls it on
 * the file's bytes.
 */
export function validateGradient(p: Phase, raw: Uint8Array, limits: WorkerMessageLimits): Float32Array {
  const expected = p === 'D' ? limits.dParams : limits.gParams;
  if (raw.byteLength !== 4 * expected) {
    throw protocolError('BAD_GRADIENT_LENGTH', `${p} gradient has ${raw.byteLength / 4} values, the model has ${expected} parameters`);
  }
  const gradient = float32View(raw);
  const bound = limits.gradientBound ?? Number.POSITIVE_INFINITY;
  const bad = firstOutOfRange(gradient, bound);
  if (bad >= 0) {
    const value = gradient[bad]!;
    if (!Number.isFinite(value)) throw protocolError('NON_FINITE', `${p} gradient value ${bad} is ${value}`);
    throw protocolError(
      'OUT_OF_RANGE',
      `${p} gradient value ${bad} is ${value}, beyond ${bound.toExponential(3)}, past which the optimizer's state would overflow`,
    );
  }
  return gradient;
}

/** The fields a `result` and a `resultFile` share. */
function resultFields(o: Fields, p: Phase): Omit<ResultMessage, 'type' | 'gradient'> {
  return {
    step: int(o, 'step'),
    phase: p,
    shard: int(o, 'shard', 0, 65_535),
    lossSum: finite(o, 'lossSum'),
    dRealSum: finite(o, 'dRealSum'),
    dFakeSum: finite(o, 'dFakeSum'),
    computeMs: finite(o, 'computeMs'),
    cpuMs: nonNegative(o, 'cpuMs'),
  };
}

/** The name of a file in the shared folder: bare, so that joined to the folder it stays inside. */
function fileName(o: Fields): string {
  const file = str(o, 'file', 128);
  if (!FILE_NAME.test(file) || file.startsWith('.')) {
    throw protocolError('BAD_FIELD', `${String(o.type)}.file must be a file name of letters, digits, ".", "_" and "-" not starting with "."`);
  }
  return file;
}

/** The name a worker gives its `n`th result file (`ResultFileMessage`). */
export function resultFileName(workerId: string, n: number): string {
  return `r-${workerId}-${n}.f32`;
}

/** Validates every field of a message from a worker. */
export function validateWorkerMessage(o: Fields, limits: WorkerMessageLimits): WorkerMessage {
  const type = o.type;
  switch (type) {
    case 'hello': {
      const protocol = protocolVersion(o, 'worker');
      const w = field(o, 'worker');
      if (w === null || typeof w !== 'object' || Array.isArray(w)) throw protocolError('BAD_FIELD', 'hello.worker must be an object');
      const info = w as Fields;
      return {
        type,
        protocol,
        worker: {
          name: str(info, 'name', 128, 'hello.worker'),
          host: str(info, 'host', 256, 'hello.worker'),
          pid: int(info, 'pid', 0, 0x7fffffff, 'hello.worker'),
          backend: str(info, 'backend', 32, 'hello.worker'),
        },
        snapshotDir: o.snapshotDir === null ? null : str(o, 'snapshotDir', 4096),
      };
    }
    case 'ready':
      return { type, configHash: sha(o, 'configHash'), datasetFingerprint: sha(o, 'datasetFingerprint') };
    case 'result': {
      const p = phase(o, 'phase');
      return { type, ...resultFields(o, p), gradient: validateGradient(p, bytes(o, 'gradient'), limits) };
    }
    case 'resultFile': {
      const p = phase(o, 'phase');
      return { type, ...resultFields(o, p), file: fileName(o) };
    }
    case 'error':
      return errorMessage(o);
    default:
      throw protocolError('UNKNOWN_TYPE', `worker sent unknown message type ${JSON.stringify(type)?.slice(0, 40)}`);
  }
}

/** Validates every field of a message from the coordinator. */
export function validateCoordinatorMessage(o: Fields): CoordinatorMessage {
  const type = o.type;
  switch (type) {
    case 'welcome': {
      const protocol = protocolVersion(o, 'coordinator');
      const config = field(o, 'config');
      if (config === null || typeof config !== 'object' || Array.isArray(config)) throw protocolError('BAD_FIELD', 'welcome.config must be an object');
      return {
        type,
        protocol,
        workerId: str(o, 'workerId', 64),
        config: config as Fields,
        configHash: sha(o, 'configHash'),
        datasetFingerprint: sha(o, 'datasetFingerprint'),
      };
    }
    case 'snapshot': {
      const net = field(o, 'net');
      if (net !== 'D' && net !== 'G') throw protocolError('BAD_FIELD', 'snapshot.net must be "D" or "G"');
      const weights = float32View(bytes(o, 'weights'));
      const bad = firstNonFinite(weights);
      if (bad >= 0) throw protocolError('NON_FINITE', `snapshot weight ${bad} is ${weights[bad]}`);
      return { type, net, version: int(o, 'version'), weights };
    }
    case 'snapshotFile': {
      const net = field(o, 'net');
      if (net !== 'D' && net !== 'G') throw protocolError('BAD_FIELD', 'snapshotFile.net must be "D" or "G"');
      return { type, net, version: int(o, 'version'), file: fileName(o) };
    }
    case 'task': {
      const rawIndices = field(o, 'indices');
      const indices = rawIndices === null ? null : uint32View(bytes(o, 'indices'));
      const count = int(o, 'count', 1, 65_536);
      const p = phase(o, 'phase');
      if ((p === 'D') !== (indices !== null) || (indices && indices.length !== count)) {
        throw protocolError('BAD_FIELD', `task.indices must hold ${count} indices in the D phase and be null in the G phase`);
      }
      return {
        type,
        step: int(o, 'step'),
        phase: p,
        shard: int(o, 'shard', 0, 65_535),
        start: int(o, 'start'),
        count,
        dVersion: int(o, 'dVersion'),
        gVersion: int(o, 'gVersion'),
        indices,
      };
    }
    case 'done':
      return { type, reason: str(o, 'reason', 1024) };
    case 'error':
      return errorMessage(o);
    default:
      throw protocolError('UNKNOWN_TYPE', `coordinator sent unknown message type ${JSON.stringify(type)?.slice(0, 40)}`);
  }
}
