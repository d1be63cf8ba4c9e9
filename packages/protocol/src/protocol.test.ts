import { pack, Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  firstNonFinite,
  firstOutOfRange,
  codeForClose,
  COORDINATOR_MESSAGE_TYPES,
  decodeCoordinatorMessage,
  decodeFrame,
  decodeWorkerMessage,
  encodeMessage,
  FrameBuffer,
  maxFrameBytes,
  PROTOCOL_ERRORS,
  PROTOCOL_VERSION,
  ProtocolError,
  protocolError,
  resultFileName,
  validateGradient,
  WORKER_MESSAGE_TYPES,
  type CoordinatorMessage,
  type ProtocolErrorCode,
  type WorkerMessage,
} from './index.js';
import { truncateUtf8 } from './errors.js';

const limits = { dParams: 5, gParams: 3 };
const SHA = 'a'.repeat(64);

const workerSamples: { [T in WorkerMessage['type']]: Extract<WorkerMessage, { type: T }> } = {
  hello: { type: 'hello', protocol: PROTOCOL_VERSION, worker: { name: 'w1', host: 'box', pid: 42, backend: 'wasm' }, snapshotDir: '/tmp/distgan-snapshots-x1' },
  ready: { type: 'ready', configHash: SHA, datasetFingerprint: 'b'.repeat(64) },
  result: {
    type: 'result',
    step: 3,
    phase: 'D',
    shard: 1,
    gradient: Float32Array.of(1, -2.5, 3e-8, 0, 7),
    lossSum: 1.25,
    dRealSum: 0.5,
    dFakeSum: 0.25,
    computeMs: 12.5,
    cpuMs: 9.75,
  },
  resultFile: {
    type: 'resultFile',
    step: 3,
    phase: 'G',
    shard: 0,
    lossSum: 1.25,
    dRealSum: 0.5,
    dFakeSum: 0.25,
    computeMs: 12.5,
    cpuMs: 9.75,
    file: 'r-w1-1.f32',
  },
  error: { type: 'error', code: 'DATASET_MISMATCH', message: 'fingerprints differ' },
};

const coordinatorSamples: { [T in CoordinatorMessage['type']]: Extract<CoordinatorMessage, { type: T }> } = {
  welcome: {
    type: 'welcome',
    protocol: PROTOCOL_VERSION,
    workerId: 'w-1',
    config: { preset: 'tiny', batchSize: 32, nested: { a: [1, 2] } },
    configHash: SHA,
    datasetFingerprint: SHA,
  },
  snapshot: { type: 'snapshot', net: 'G', version: 7, weights: Float32Array.of(0.1, 0.2, -0.3) },
  snapshotFile: { type: 'snapshotFile', net: 'D', version: 12, file: 'D-12-3.f32' },
  task: { type: 'task', step: 2, phase: 'D', shard: 0, start: 0, count: 2, dVersion: 2, gVersion: 2, indices: Uint32Array.of(59_999, 4) },
  done: { type: 'done', reason: 'training finished' },
  error: { type: 'error', code: 'CONFIG_MISMATCH', message: 'x' },
};

function codeOf(fn: () => unknown): ProtocolErrorCode {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
  throw new Error('expected a ProtocolError');
}

describe('round trips', () => {
  it.each(WORKER_MESSAGE_TYPES)('worker message %s', (type) => {
    const decoded = decodeWorkerMessage(encodeMessage(workerSamples[type]), limits);
    expect(decoded).toEqual(workerSamples[type]);
  });

  it.each(COORDINATOR_MESSAGE_TYPES)('coordinator message %s', (type) => {
    expect(decodeCoordinatorMessage(encodeMessage(coordinatorSamples[type]))).toEqual(coordinatorSamples[type]);
  });

  it('hello without a shared-snapshot folder says null', () => {
    const hello = { ...workerSamples.hello, snapshotDir: null };
    expect(decodeWorkerMessage(encodeMessage(hello), limits)).toEqual(hello);
    const { snapshotDir: _, ...without } = hello;
    expect(codeOf(() => decodeWorkerMessage(pack(without), limits))).toBe('BAD_FIELD');
  });

  it('refuses a snapshot or result file name that could lead out of the shared folder', () => {
    for (const file of ['../D-1.f32', 'a/b', '/etc/passwd', '..', '.hidden', '', 'a\\b', 'x'.repeat(129), 'D 1']) {
      expect(
        codeOf(() => decodeCoordinatorMessage(pack({ ...coordinatorSamples.snapshotFile, file }))),
        JSON.stringify(file),
      ).toBe('BAD_FIELD');
      expect(
        codeOf(() => decodeWorkerMessage(pack({ ...workerSamples.resultFile, file }), limits)),
        JSON.stringify(file),
      ).toBe('BAD_FIELD');
    }
    expect(resultFileName('w3', 12)).toBe('r-w3-12.f32');
    expect(codeOf(() => decodeCoordinatorMessage(pack({ ...coordinatorSamples.snapshotFile, net: 'X' })))).toBe('BAD_FIELD');
  });

  it('G-phase tasks carry no indices', () => {
    const task = { ...coordinatorSamples.task, phase: 'G', indices: null } as CoordinatorMessage;
    expect(decodeCoordinatorMessage(encodeMessage(task))).toEqual(task);
  });

  it('sends float arrays as raw bytes: a snapshot frame is its weights plus a small header', () => {
    const weights = new Float32Array(100_000).fill(0.123);
    const frame = encodeMessage({ type: 'snapshot', net: 'D', version: 1, weights });
    expect(frame.byteLength - weights.byteLength).toBeLessThan(64);
    const decoded = decodeCoordinatorMessage(frame);
    expect(decoded.type === 'snapshot' && decoded.weights.every((w) => w === Math.fround(0.123))).toBe(true);
  });

  it('puts bulk floats at a 4-aligned offset, so an aligned frame decodes to a view, not a copy', () => {
    // Sizes that take msgpack's bin 8, bin 16 and bin 32 headers, and steps of 1 to 5 digits.
    for (const length of [3, 63, 64, 1000, 16_383, 16_384]) {
      for (const step of [0, 7, 300, 70_000]) {
        const gradient = Float32Array.from({ length }, (_, i) => i * 0.5 - 1);
        const message: WorkerMessage = { ...workerSamples.result, step, gradient };
        const encoded = encodeMessage(message);
        expect((encoded.byteLength - gradient.byteLength) % 4, `length ${length}, step ${step}`).toBe(0);
        // As ws hands it over: a buffer of its own, starting at offset 0.
        const frame = new Uint8Array(encoded);
        const decoded = decodeWorkerMessage(frame, { dParams: length, gParams: length });
        if (decoded.type !== 'result') throw new Error('expected a result');
        expect(decoded.gradient).toEqual(gradient);
        expect(decoded.gradient.buffer).toBe(frame.buffer);
        const snapshot = encodeMessage({ type: 'snapshot', net: 'D', version: step, weights: gradient });
        expect((snapshot.byteLength - gradient.byteLength) % 4).toBe(0);
      }
    }
    // A misaligned frame still decodes, through a copy.
    const shifted = new Uint8Array(encodeMessage(coordinatorSamples.snapshot).byteLength + 1);
    shifted.set(encodeMessage(coordinatorSamples.snapshot), 1);
    const decoded = decodeCoordinatorMessage(shifted.subarray(1));
    expect(decoded).toEqual(coordinatorSamples.snapshot);
    expect(decoded.type === 'snapshot' && decoded.weights.buffer !== shifted.buffer).toBe(true);
  });
});

describe('bulk frames', () => {
  // The codec's settings: a bulk frame must be exactly what msgpackr itself writes for the message.
  const reference = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

  it('are byte for byte what msgpackr writes, for bin 8, 16 and 32 payloads', () => {
    for (const length of [0, 1, 63, 64, 16_383, 16_384, 100_000]) {
      const gradient = Float32Array.from({ length }, (_, i) => Math.sin(i));
      const frame = encodeMessage({ ...workerSamples.result, gradient });
      const { pad } = decodeFrame(frame);
      const { gradient: _, ...small } = workerSamples.result;
      const expected = reference.pack({ ...small, pad, gradient: new Uint8Array(gradient.buffer) });
      expect(Buffer.from(frame).equals(expected), `length ${length}`).toBe(true);
    }
  });

  it('encoded into a FrameBuffer: the same bytes, in the same memory every time', () => {
    const into = new FrameBuffer();
    const first = encodeMessage({ ...coordinatorSamples.snapshot, weights: new Float32Array(5000).fill(1) }, into);
    const memory = first.buffer;
    expect(Buffer.from(first).equals(encodeMessage({ ...coordinatorSamples.snapshot, weights: new Float32Array(5000).fill(1) }))).toBe(true);
    const second = encodeMessage({ ...coordinatorSamples.snapshot, version: 8, weights: new Float32Array(5000).fill(2) }, into);
    expect(second.buffer).toBe(memory); // reused, not reallocated
    expect(decodeCoordinatorMessage(new Uint8Array(second))).toEqual({ ...coordinatorSamples.snapshot, version: 8, weights: new Float32Array(5000).fill(2) });
    // Small messages do not touch it; a larger bulk message grows it.
    encodeMessage(coordinatorSamples.done, into);
    expect(into.capacity).toBe(second.byteLength);
    const bigger = encodeMessage({ ...coordinatorSamples.snapshot, weights: new Float32Array(6000) }, into);
    expect(bigger.buffer).not.toBe(memory);
    expect(into.capacity).toBe(bigger.byteLength);
  });
});

describe('hostile and broken frames', () => {
  const good = encodeMessage(workerSamples.result);
  const mutate = (changes: Record<string, unknown>) =>
    pack({ ...workerSamples.result, gradient: new Uint8Array(workerSamples.result.gradient.buffer), ...changes });

  it('rejects random bytes, truncated msgpack and non-objects as BAD_FRAME', () => {
    expect(codeOf(() => decodeWorkerMessage(Uint8Array.of(0xc1, 0xff, 0x00), limits))).toBe('BAD_FRAME');
    expect(codeOf(() => decodeWorkerMessage(good.subarray(0, good.length - 7), limits))).toBe('BAD_FRAME');
    expect(codeOf(() => decodeWorkerMessage(pack([1, 2, 3]), limits))).toBe('BAD_FRAME');
    expect(codeOf(() => decodeWorkerMessage(pack('hello'), limits))).toBe('BAD_FRAME');
    expect(codeOf(() => decodeWorkerMessage(Uint8Array.of(0xc1), limits))).toBe('BAD_FRAME'); // msgpack's never-used byte
  });

  it('rejects unknown types and coordinator-only types from a worker', () => {
    expect(codeOf(() => decodeWorkerMessage(pack({ type: 'launch-missiles' }), limits))).toBe('UNKNOWN_TYPE');
    expect(codeOf(() => decodeWorkerMessage(encodeMessage(coordinatorSamples.task), limits))).toBe('UNKNOWN_TYPE');
  });

  it('rejects missing fields and fields of the wrong kind', () => {
    const { step: _step, ...noStep } = workerSamples.result;
    expect(codeOf(() => decodeWorkerMessage(pack({ ...noStep, gradient: new Uint8Array(20) }), limits))).toBe('BAD_FIELD');
    expect(codeOf(() => decodeWorkerMessage(mutate({ step: '3' }), limits))).toBe('BAD_FIELD');
    expect(codeOf(() => decodeWorkerMessage(mutate({ step: -1 }), limits))).toBe('BAD_FIELD');
    expect(codeOf(() => decodeWorkerMessage(mutate({ phase: 'X' }), limits))).toBe('BAD_FIELD');
    expect(codeOf(() => decodeWorkerMessage(mutate({ gradient: [1, 2, 3, 4, 5] }), limits))).toBe('BAD_FIELD');
    expect(codeOf(() => decodeWorkerMessage(pack({ type: 'ready', configHash: 'nope', datasetFingerprint: SHA }), limits))).toBe('BAD_FIELD');
    // A worker's CPU time since its last result: a number, never negative (the coordinator sums it).
    const { cpuMs: _cpuMs, ...noCpu } = workerSamples.result;
    expect(codeOf(() => decodeWorkerMessage(encodeMessage(noCpu as typeof workerSamples.result), limits))).toBe('BAD_FIELD');
    expect(codeOf(() => decodeWorkerMessage(mutate({ cpuMs: -0.5 }), limits))).toBe('BAD_FIELD');
    expect(codeOf(() => decodeWorkerMessage(mutate({ cpuMs: '5' }), limits))).toBe('BAD_FIELD');
    expect(codeOf(() => decodeWorkerMessage(mutate({ cpuMs: NaN }), limits))).toBe('NON_FINITE');
    expect((decodeWorkerMessage(mutate({ cpuMs: 0 }), limits) as { cpuMs: number }).cpuMs).toBe(0);
  });

  it('rejects gradients of the wrong length for their phase', () => {
    expect(codeOf(() => decodeWorkerMessage(mutate({ phase: 'G' }), limits))).toBe('BAD_GRADIENT_LENGTH');
    expect(codeOf(() => decodeWorkerMessage(mutate({ gradient: new Uint8Array(24) }), limits))).toBe('BAD_GRADIENT_LENGTH');
  });

  it('rejects NaN and Infinity in gradients and statistics', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const g = Float32Array.of(1, 2, bad, 4, 5);
      expect(codeOf(() => decodeWorkerMessage(mutate({ gradient: new Uint8Array(g.buffer) }), limits))).toBe('NON_FINITE');
      // Every statistic, not only the loss: each is summed into the metrics.
      for (const field of ['lossSum', 'dRealSum', 'dFakeSum']) {
        expect(
          codeOf(() => decodeWorkerMessage(mutate({ [field]: bad }), limits)),
          field,
        ).toBe('NON_FINITE');
      }
    }
  });

  it('finds the first NaN or infinity at every position, inside the eight-value blocks and in the tail', () => {
    const finite = Float32Array.from({ length: 37 }, (_, i) => [3.4e38, -3.4e38, -0, 1e-45, 0, 1][i % 6]!);
    expect(firstNonFinite(finite)).toBe(-1);
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (let at = 0; at < finite.length; at++) {
        const values = Float32Array.from(finite);
        values[at] = bad;
        if (at + 3 < values.length) values[at + 3] = NaN; // a later one does not hide the first
        expect(firstNonFinite(values), `${bad} at ${at}`).toBe(at);
      }
    }
  });

  it('rejects finite gradient values past the limits bound as OUT_OF_RANGE, naming the value', () => {
    const bounded = { ...limits, gradientBound: Math.fround(1e20) };
    const frame = (g: Float32Array) => mutate({ gradient: new Uint8Array(g.buffer) });
    expect(decodeWorkerMessage(frame(Float32Array.of(1e20, -1e20, 3, 4, 5)), bounded).type).toBe('result');
    expect(codeOf(() => decodeWorkerMessage(frame(Float32Array.of(1, 3e38, 3, 4, 5)), bounded))).toBe('OUT_OF_RANGE');
    expect(() => decodeWorkerMessage(frame(Float32Array.of(1, 2, -3e38, 4, 5)), bounded)).toThrow(/D gradient value 2 is -3\.\d+e\+38, beyond 1\.000e\+20/);
    // A NaN stays NON_FINITE; without a bound any finite value passes.
    expect(codeOf(() => decodeWorkerMessage(frame(Float32Array.of(1, NaN, 3, 4, 5)), bounded))).toBe('NON_FINITE');
    expect(decodeWorkerMessage(frame(Float32Array.of(1, 3e38, 3, 4, 5)), limits).type).toBe('result');
  });

  it("validateGradient checks a result file's bytes as a frame's: the phase's length, finite, within the bound", () => {
    const bounded = { ...limits, gradientBound: 10 };
    const bytesOf = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
    expect(Array.from(validateGradient('D', bytesOf(1, 2, 3, 4, 5), bounded))).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(validateGradient('G', bytesOf(1, -2, 3), bounded))).toEqual([1, -2, 3]);
    expect(codeOf(() => validateGradient('G', bytesOf(1, 2, 3, 4, 5), bounded))).toBe('BAD_GRADIENT_LENGTH');
    expect(codeOf(() => validateGradient('D', bytesOf(1, 2, 3), bounded))).toBe('BAD_GRADIENT_LENGTH');
    expect(codeOf(() => validateGradient('D', new Uint8Array(19), bounded))).toBe('BAD_GRADIENT_LENGTH');
    expect(codeOf(() => validateGradient('G', bytesOf(1, Number.POSITIVE_INFINITY, 3), bounded))).toBe('NON_FINITE');
    expect(codeOf(() => validateGradient('G', bytesOf(1, 11, 3), bounded))).toBe('OUT_OF_RANGE');
  });

  it('finds the first value out of a bound at every position, inside the eight-value blocks and in the tail', () => {
    const bound = Math.fround(2.5e19);
    const inside = Float32Array.from({ length: 37 }, (_, i) => [bound, -bound, -0, 1e-45, 2.4999e19, 1][i % 6]!);
    expect(firstOutOfRange(inside, bound)).toBe(-1);
    for (const bad of [NaN, Infinity, 2.5001e19, -3e38]) {
      for (let at = 0; at < inside.length; at++) {
        const values = Float32Array.from(inside);
        values[at] = bad;
        if (at + 3 < values.length) values[at + 3] = NaN;
        expect(firstOutOfRange(values, bound), `${bad} at ${at}`).toBe(at);
      }
    }
  });

  it('rejects another protocol version, naming both sides so that the text reads right on either', () => {
    const hello = { ...workerSamples.hello, protocol: PROTOCOL_VERSION + 1 };
    expect(() => decodeWorkerMessage(encodeMessage(hello), limits)).toThrow(
      `the worker speaks protocol ${PROTOCOL_VERSION + 1}, the coordinator speaks ${PROTOCOL_VERSION}`,
    );
    const welcome = {
      type: 'welcome',
      protocol: PROTOCOL_VERSION + 2,
      workerId: 'w1',
      config: {},
      configHash: 'a'.repeat(64),
      datasetFingerprint: 'b'.repeat(64),
    } as const;
    expect(() => decodeCoordinatorMessage(encodeMessage(welcome))).toThrow(
      `the coordinator speaks protocol ${PROTOCOL_VERSION + 2}, the worker speaks ${PROTOCOL_VERSION}`,
    );
  });

  it("names a hello's worker fields by their path", () => {
    const hello = { ...workerSamples.hello, worker: { ...workerSamples.hello.worker, name: 'n'.repeat(129) } };
    expect(() => decodeWorkerMessage(encodeMessage(hello), limits)).toThrow('hello.worker.name must be a string of at most 128 characters');
    const noPid = pack({ type: 'hello', protocol: PROTOCOL_VERSION, worker: { name: 'a', host: 'b', backend: 'c' } });
    expect(() => decodeWorkerMessage(noPid, limits)).toThrow('hello.worker.pid is missing');
  });

  it('gives each error a distinct close code in the application range, found back by codeForClose', () => {
    const codes = Object.keys(PROTOCOL_ERRORS) as ProtocolErrorCode[];
    const closeCodes = codes.map((code) => PROTOCOL_ERRORS[code].closeCode);
    expect(new Set(closeCodes).size).toBe(codes.length);
    for (const code of codes) {
      const closeCode = PROTOCOL_ERRORS[code].closeCode;
      expect(closeCode, code).toBeGreaterThanOrEqual(4000);
      expect(closeCode, code).toBeLessThanOrEqual(4999);
      expect(codeForClose(closeCode)).toBe(code);
      expect(protocolError(code, 'x').closeCode).toBe(closeCode);
    }
    expect(codeForClose(1000)).toBeUndefined();
    expect(codeForClose(4999)).toBeUndefined();
  });

  it("keeps a close reason within WebSocket's 123 bytes without splitting a character", () => {
    const long = codeOf(() => decodeWorkerMessage(pack({ type: 'x'.repeat(500) }), limits));
    expect(long).toBe('UNKNOWN_TYPE');
    const err = protocolError('BAD_FIELD', 'é'.repeat(200));
    expect(Buffer.byteLength(err.closeReason)).toBeLessThanOrEqual(123);
    expect(err.closeReason).toBe(`BAD_FIELD: ${'é'.repeat(56)}`); // 11 + 112 bytes; the 57th would make 125
    expect(protocolError('BAD_FIELD', 'short').closeReason).toBe('BAD_FIELD: short');
    expect(err.name).toBe('ProtocolError');
    expect(err).toBeInstanceOf(Error);
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(truncateUtf8('aé', 3)).toBe('aé');
    expect(maxFrameBytes(471_601, 591_784)).toBe(4 * 591_784 + 64 * 1024);
  });

  it('survives thousands of random mutations of valid frames with only ProtocolErrors', () => {
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const frames = [...Object.values(workerSamples)].map((m) => encodeMessage(m));
    let rejected = 0;
    for (let i = 0; i < 5000; i++) {
      const frame = Uint8Array.from(frames[i % frames.length]!);
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) frame[Math.floor(rand() * frame.length)] = Math.floor(rand() * 256);
      const cut = rand() < 0.2 ? Math.floor(rand() * frame.length) : frame.length;
      try {
        decodeWorkerMessage(frame.subarray(0, cut), limits);
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1000);
  });
});
