import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  decodeCoordinatorMessage,
  decodeFrame,
  decodeWorkerMessage,
  encodeMessage,
  firstOutOfRange,
  PROTOCOL_VERSION,
  ProtocolError,
  type ProtocolErrorCode,
} from './index.js';
import { float32View } from './validate.js';

/** Every field's rule, checked by code and by the message a user reads. */

const limits = { dParams: 5, gParams: 3 };
const SHA = 'a'.repeat(64);

function failure(fn: () => unknown): { code: ProtocolErrorCode; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return { code: err.code, message: err.detail };
    throw err;
  }
  throw new Error('expected a ProtocolError');
}

const result = {
  type: 'result',
  step: 3,
  phase: 'D',
  shard: 1,
  gradient: new Uint8Array(Float32Array.of(1, 2, 3, 4, 5).buffer),
  lossSum: 1,
  dRealSum: 0.5,
  dFakeSum: 0.25,
  computeMs: 2,
  cpuMs: 1,
};
const worker = (changes: Record<string, unknown>) => failure(() => decodeWorkerMessage(pack({ ...result, ...changes }), limits));
const hello = (workerField: unknown) =>
  failure(() => decodeWorkerMessage(pack({ type: 'hello', protocol: PROTOCOL_VERSION, worker: workerField, snapshotDir: null }), limits));

describe("a worker's messages", () => {
  it('names the field and the rule it broke', () => {
    expect(worker({ lossSum: 'x' })).toEqual({ code: 'BAD_FIELD', message: 'result.lossSum must be a number' });
    expect(worker({ dRealSum: Number.NaN })).toEqual({ code: 'NON_FINITE', message: 'result.dRealSum is NaN' });
    expect(worker({ cpuMs: -1 })).toEqual({ code: 'BAD_FIELD', message: 'result.cpuMs must not be negative, got -1' });
    expect(worker({ phase: 'X' })).toEqual({ code: 'BAD_FIELD', message: 'result.phase must be "D" or "G"' });
    expect(worker({ gradient: [1, 2] })).toEqual({ code: 'BAD_FIELD', message: 'result.gradient must be binary' });
    expect(worker({ shard: 65_536 })).toEqual({ code: 'BAD_FIELD', message: 'result.shard must be an integer in [0, 65535]' });
    expect(worker({ shard: 1.5 }).code).toBe('BAD_FIELD');
    expect(worker({ step: -1 }).code).toBe('BAD_FIELD');
    expect(decodeWorkerMessage(pack({ ...result, shard: 65_535 }), limits)).toMatchObject({ shard: 65_535 });
    expect(worker({ gradient: new Uint8Array(16) })).toEqual({ code: 'BAD_GRADIENT_LENGTH', message: 'D gradient has 4 values, the model has 5 parameters' });
    expect(worker({ gradient: new Uint8Array(Float32Array.of(1, Number.NaN, 3, 4, 5).buffer) })).toEqual({
      code: 'NON_FINITE',
      message: 'D gradient value 1 is NaN',
    });
    expect(worker({ gradient: new Uint8Array(Float32Array.of(Number.NaN, 2, 3, 4, 5).buffer) })).toEqual({
      code: 'NON_FINITE',
      message: 'D gradient value 0 is NaN',
    });
    expect(worker({ type: 'y'.repeat(100) })).toEqual({
      code: 'UNKNOWN_TYPE',
      message: `worker sent unknown message type ${JSON.stringify('y'.repeat(100)).slice(0, 40)}`,
    });
  });

  it("refuses a hello whose worker is not a map, and names a worker field's path", () => {
    for (const w of [null, [], 'me', 7]) expect(hello(w), JSON.stringify(w)).toEqual({ code: 'BAD_FIELD', message: 'hello.worker must be an object' });
    expect(hello({ name: 'a', host: 7, pid: 1, backend: 'b' }).message).toBe('hello.worker.host must be a string of at most 256 characters');
    expect(hello({ name: 'a', host: 'h', pid: 1, backend: 'b'.repeat(33) }).message).toBe('hello.worker.backend must be a string of at most 32 characters');
  });

  it('takes hashes of exactly 64 lowercase hex characters', () => {
    const ready = (configHash: string) => failure(() => decodeWorkerMessage(pack({ type: 'ready', configHash, datasetFingerprint: SHA }), limits));
    expect(decodeWorkerMessage(pack({ type: 'ready', configHash: SHA, datasetFingerprint: SHA }), limits).type).toBe('ready');
    for (const bad of ['A'.repeat(64), 'a'.repeat(63), `g${'a'.repeat(63)}`, `${'a'.repeat(63)}g`]) {
      expect(ready(bad), bad).toEqual({ code: 'BAD_FIELD', message: 'ready.configHash must be a SHA-256 hex string' });
    }
  });
});

describe("the coordinator's messages", () => {
  const coordinator = (message: Record<string, unknown>) => failure(() => decodeCoordinatorMessage(pack(message)));

  it('refuses a snapshot with a NaN or infinity, naming where', () => {
    const weights = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
    expect(coordinator({ type: 'snapshot', net: 'D', version: 1, weights: weights(1, Number.NaN) })).toEqual({
      code: 'NON_FINITE',
      message: 'snapshot weight 1 is NaN',
    });
    expect(coordinator({ type: 'snapshot', net: 'D', version: 1, weights: weights(Number.NEGATIVE_INFINITY) })).toEqual({
      code: 'NON_FINITE',
      message: 'snapshot weight 0 is -Infinity',
    });
    expect(coordinator({ type: 'snapshot', net: 'X', version: 1, weights: weights(1) })).toEqual({
      code: 'BAD_FIELD',
      message: 'snapshot.net must be "D" or "G"',
    });
    expect(coordinator({ type: 'snapshot', net: 'G', version: 1, weights: new Uint8Array(7) })).toEqual({
      code: 'BAD_FIELD',
      message: 'float array of 7 bytes is not a multiple of 4',
    });
    expect(coordinator({ type: 'snapshotFile', net: 'X', version: 1, file: 'a.f32' })).toEqual({
      code: 'BAD_FIELD',
      message: 'snapshotFile.net must be "D" or "G"',
    });
    expect(coordinator({ type: 'snapshotFile', net: 'G', version: 1, file: '../a' }).message).toBe(
      'snapshotFile.file must be a file name of letters, digits, ".", "_" and "-" not starting with "."',
    );
  });

  /** A D task's fields, its two indices as the wire's bytes. */
  const dTask = { type: 'task', step: 1, phase: 'D', shard: 0, start: 0, count: 2, dVersion: 1, gVersion: 1 } as const;

  it('takes real indices with D tasks only, as many as the count', () => {
    const task = { ...dTask, indices: new Uint8Array(Uint32Array.of(4, 5).buffer) };
    const message = 'task.indices must hold 2 indices in the D phase and be null in the G phase';
    expect(decodeCoordinatorMessage(pack(task))).toMatchObject({ phase: 'D', count: 2 });
    expect(coordinator({ ...task, indices: null })).toEqual({ code: 'BAD_FIELD', message });
    expect(coordinator({ ...task, phase: 'G' })).toEqual({ code: 'BAD_FIELD', message });
    expect(coordinator({ ...task, indices: new Uint8Array(Uint32Array.of(4).buffer) })).toEqual({ code: 'BAD_FIELD', message });
    expect(coordinator({ ...task, indices: new Uint8Array(6) })).toEqual({ code: 'BAD_FIELD', message: 'uint32 array of 6 bytes is not a multiple of 4' });
    expect(decodeCoordinatorMessage(pack({ ...task, phase: 'G', indices: null }))).toMatchObject({ phase: 'G', indices: null });
  });

  it('reads indices at an unaligned offset by copying them', () => {
    const frame = encodeMessage({ ...dTask, indices: Uint32Array.of(4, 59_999) });
    const shifted = new Uint8Array(frame.byteLength + 1);
    shifted.set(frame, 1);
    const decoded = decodeCoordinatorMessage(shifted.subarray(1));
    expect(decoded.type === 'task' && Array.from(decoded.indices!)).toEqual([4, 59_999]);
  });

  it('refuses a welcome whose config is not a map, and an unknown type, saying which', () => {
    const welcome = { type: 'welcome', protocol: PROTOCOL_VERSION, workerId: 'w1', configHash: SHA, datasetFingerprint: SHA };
    for (const config of [null, [1], 'tiny']) {
      expect(coordinator({ ...welcome, config }), JSON.stringify(config)).toEqual({ code: 'BAD_FIELD', message: 'welcome.config must be an object' });
    }
    expect(coordinator({ type: 'z'.repeat(60) })).toEqual({
      code: 'UNKNOWN_TYPE',
      message: `coordinator sent unknown message type ${JSON.stringify('z'.repeat(60)).slice(0, 40)}`,
    });
  });
});

describe('frames and float views', () => {
  it('says why a frame is not a message', () => {
    expect(failure(() => decodeFrame(Uint8Array.of(0x82, 0xa1))).message).toMatch(/^undecodable msgpack \(.{1,60}\)$/);
    for (const value of [null, [1], 'text', 5, new Uint8Array(2)]) {
      expect(
        failure(() => decodeFrame(pack(value))),
        JSON.stringify(value),
      ).toEqual({ code: 'BAD_FRAME', message: 'frame does not hold a message object' });
    }
  });

  it('views aligned float bytes and copies unaligned ones', () => {
    const backing = new Uint8Array(13);
    backing.set(new Uint8Array(Float32Array.of(1.5, -2, 3).buffer), 1);
    const unaligned = float32View(backing.subarray(1));
    expect(Array.from(unaligned)).toEqual([1.5, -2, 3]);
    expect(unaligned.buffer).not.toBe(backing.buffer);
    const aligned = new Uint8Array(Float32Array.of(4, 5).buffer);
    expect(float32View(aligned).buffer).toBe(aligned.buffer);
  });
});

describe('firstOutOfRange', () => {
  const bound = Math.fround(2.5e19);
  const inside = Float32Array.from({ length: 43 }, (_, i) => [bound, -bound, -0, 1e-45, 2.4999e19, 1][i % 6]!);

  it('finds a single bad value at every position of every block and the tail', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -3e38, 2.5001e19]) {
      for (let at = 0; at < inside.length; at++) {
        const values = Float32Array.from(inside);
        values[at] = bad;
        expect(firstOutOfRange(values, bound), `${bad} at ${at}`).toBe(at);
      }
    }
  });

  it('finds the float32 just above the bound, and passes the bound itself', () => {
    const above = new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(bound).buffer)[0]! + 1]).buffer)[0]!;
    expect(above).toBeGreaterThan(bound);
    for (let at = 0; at < 16; at++) {
      const values = new Float32Array(24).fill(bound);
      values[at] = -above;
      expect(firstOutOfRange(values, bound), `at ${at}`).toBe(at);
    }
    expect(firstOutOfRange(new Float32Array(24).fill(-bound), bound)).toBe(-1);
    expect(firstOutOfRange(Float64Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 1e300), Number.POSITIVE_INFINITY)).toBe(-1);
  });
});
