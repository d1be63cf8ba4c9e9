import { Packr } from 'msgpackr';
import { protocolError } from './errors.js';
import type { CoordinatorMessage, Message, WorkerMessage } from './messages.js';
import { validateCoordinatorMessage, validateWorkerMessage, type WorkerMessageLimits } from './validate.js';

/**
 * The one configured codec. Plain maps (no msgpackr records, whose shared structures would make a
 * frame's meaning depend on earlier frames) and no extension types: typed arrays travel as
 * msgpack `bin` of their raw little-endian bytes, never as per-number encodings.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function toWire(message: Message): Record<string, unknown> {
  switch (message.type) {
    case 'snapshot':
      return { ...message, weights: bytesOf(message.weights) };
    case 'result':
      return { ...message, gradient: bytesOf(message.gradient) };
    case 'task':
      return { ...message, indices: message.indices ? bytesOf(message.indices) : null };
    case 'hello':
    case 'snapshotFile':
    case 'resultFile':
    case 'ready':
    case 'welcome':
    case 'done':
    case 'error':
      return { ...message };
    default: {
      const unknown: never = message;
      throw new Error(`cannot encode ${JSON.stringify(unknown)}`);
    }
  }
}

/** The field holding a message's bulk array, if it has one. */
function bulkField(message: Message): 'weights' | 'gradient' | null {
  return message.type === 'snapshot' ? 'weights' : message.type === 'result' ? 'gradient' : null;
}

/** Bytes of a msgpack `bin` header for a payload of n bytes (bin 8, 16 or 32). */
function binHeaderBytes(n: number): number {
  return n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** Writes the msgpack `bin` header for n bytes at `at`; returns the offset after it. */
function writeBinHeader(out: Uint8Array, at: number, n: number): number {
  if (n < 0x100) {
    out[at] = 0xc4;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = 0xc5;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  out[at] = 0xc6;
  new DataView(out.buffer, out.byteOffset + at + 1, 4).setUint32(0, n, false);
  return at + 5;
}

const EMPTY = new Uint8Array(0);

/**
 * Memory that `encodeMessage` writes bulk frames (snapshots and results) into, reused from frame
 * to frame so that a training loop does not allocate megabytes per phase. A frame encoded into it
 * is a view of it, overwritten by the next encode: encode the next one only once every send of
 * the last has completed (ws's send callback says when the kernel has the bytes).
 */
export class FrameBuffer {
  private bytes = new Uint8Array(0);

  /** The first `n` bytes, in new memory when the buffer is smaller (the old stays with its views). */
  take(n: number): Uint8Array {
    if (this.bytes.byteLength < n) this.bytes = new Uint8Array(n);
    return this.bytes.subarray(0, n);
  }

  /** Bytes held now (for tests and statistics). */
  get capacity(): number {
    return this.bytes.byteLength;
  }
}

/**
 * Encodes one message as one binary frame. A snapshot's weights or a result's gradient go last,
 * after a `pad` string sized so that their bytes start at a multiple of 4 in the frame: a receiver
 * whose frame buffer is 4-aligned (ws hands over a fresh buffer for large messages) then reads
 * the floats as a view instead of copying megabytes. Such a frame is the msgpack encoding of the
 * message's small fields, then the bulk bytes copied once behind them: into `into` when given,
 * else into new memory.
 */
export function encodeMessage(message: Message, into?: FrameBuffer): Uint8Array {
  const wire = toWire(message);
  const bulk = bulkField(message);
  if (bulk === null) return packr.pack(wire);
  const { [bulk]: bytes, ...rest } = wire as Record<typeof bulk, Uint8Array>;
  const n = bytes.byteLength;
  // Everything before the bulk bytes, measured with an empty array (a 2-byte bin 8) in its place.
  const before = packr.pack({ ...rest, pad: '', [bulk]: EMPTY }).byteLength - 2 + binHeaderBytes(n);
  const pad = 'ppp'.slice(0, (4 - (before % 4)) % 4);
  // msgpackr writes keys in insertion order, so the bulk field's empty bin 8 is the last 2 bytes.
  const head = packr.pack({ ...rest, pad, [bulk]: EMPTY });
  const headBytes = head.byteLength - 2;
  const size = headBytes + binHeaderBytes(n) + n;
  const frame = into ? into.take(size) : new Uint8Array(size);
  frame.set(head.subarray(0, headBytes));
  frame.set(bytes, writeBinHeader(frame, headBytes, n));
  return frame;
}

/** Parses a frame into a plain object; anything else is a BAD_FRAME. */
export function decodeFrame(frame: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = packr.unpack(frame);
  } catch (err) {
    throw protocolError('BAD_FRAME', `undecodable msgpack (${(err as Error).message.slice(0, 60)})`);
  }
  // Only a plain map is a message: not arrays, binaries, or msgpackr's objects for odd bytes (0xc1).
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) {
    throw protocolError('BAD_FRAME', 'frame does not hold a message object');
  }
  return value as Record<string, unknown>;
}

/** Decodes and validates a frame a worker sent. Throws ProtocolError. */
export function decodeWorkerMessage(frame: Uint8Array, limits: WorkerMessageLimits): WorkerMessage {
  return validateWorkerMessage(decodeFrame(frame), limits);
}

/** Decodes and validates a frame the coordinator sent. Throws ProtocolError. */
export function decodeCoordinatorMessage(frame: Uint8Array): CoordinatorMessage {
  return validateCoordinatorMessage(decodeFrame(frame));
}
