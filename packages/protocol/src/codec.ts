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

const EMPTY = new Uint8Array(0);

/**
 * Encodes one message as one binary frame. A snapshot's weights or a result's gradient go last,
 * after a `pad` string sized so that their bytes start at a multiple of 4 in the frame: a receiver
 * whose frame buffer is 4-aligned (ws hands over a fresh buffer for large messages) then reads
 * the floats as a view instead of copying megabytes.
 */
export function encodeMessage(message: Message): Uint8Array {
  const wire = toWire(message);
  const bulk = bulkField(message);
  if (bulk === null) return packr.pack(wire);
  const { [bulk]: bytes, ...rest } = wire as Record<string, Uint8Array>;
  // Everything before the bulk bytes, measured with an empty array (a 2-byte bin 8) in its place.
  const before = packr.pack({ ...rest, pad: '', [bulk]: EMPTY }).byteLength - 2 + binHeaderBytes(bytes!.byteLength);
  const pad = 'ppp'.slice(0, (4 - (before % 4)) % 4);
  return packr.pack({ ...rest, pad, [bulk]: bytes });
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
