import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRunConfig, runConfigHash, TrainingState, type TrainingStateData } from '@distgan/training';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError, CheckpointStore, decodeCheckpoint, encodeCheckpoint, nonFiniteIn } from './checkpoint.js';

const tmp = { path: mkdtempSync(join(tmpdir(), 'distgan-run-store-')), remove: () => rmSync(tmp.path, { recursive: true, force: true }) };
afterAll(() => tmp.remove());
const config = makeRunConfig('tiny');
const key = runConfigHash(config);

function stateAt(step: number, dPhase = false): TrainingStateData {
  const s = new TrainingState(config);
  s.nextStep = step;
  s.apply('D', new Float64Array(s.dWeights.length).fill(0.01 * (step + 1)));
  if (dPhase) s.dPhase = { loss: 1, dReal: 0.5, dFake: 0.25 };
  return s.data();
}

function store(name: string): CheckpointStore {
  const s = new CheckpointStore(join(tmp.path, name), key);
  mkdirSync(s.dir, { recursive: true });
  return s;
}

/** A checkpoint rebuilt with `edit` applied to its JSON header (the payload's checksum kept valid). */
function withHeader(good: Buffer, edit: (header: Record<string, unknown>) => void): Buffer {
  const headerLength = good.readUInt32LE(4);
  const header = JSON.parse(good.toString('utf8', 8, 8 + headerLength)) as Record<string, unknown>;
  edit(header);
  // JSON.stringify cannot write a number that parses to infinity; the placeholder becomes one.
  const json = Buffer.from(JSON.stringify(header).replace('"<1e999>"', '1e999'));
  const prefix = Buffer.from(good.subarray(0, 8));
  prefix.writeUInt32LE(json.length, 4);
  return Buffer.concat([prefix, json, good.subarray(8 + headerLength)]);
}

const failure = (buf: Buffer) => {
  try {
    decodeCheckpoint(buf, key, 'f.ckpt');
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).name).toBe('CheckpointError');
    return (err as Error).message;
  }
  throw new Error('expected a CheckpointError');
};

describe('decodeCheckpoint says what is wrong', () => {
  const good = encodeCheckpoint(stateAt(2), key);

  it('with the magic, the header and its length, the format and the key', () => {
    expect(failure(Buffer.from('DGCK123'))).toBe('f.ckpt: not a distgan checkpoint (bad magic)');
    expect(failure(Buffer.concat([Buffer.from('XXXX'), good.subarray(4)]))).toBe('f.ckpt: not a distgan checkpoint (bad magic)');
    const long = Buffer.from(good);
    long.writeUInt32LE(good.length, 4);
    expect(failure(long)).toBe('f.ckpt: truncated header');
    expect(failure(good.subarray(0, 8 + good.readUInt32LE(4)))).toMatch(/^f\.ckpt: payload is 0 bytes, header says \d+ \(truncated\?\)$/);
    const exact = Buffer.from(good.subarray(0, 9));
    exact.writeUInt32LE(1, 4);
    expect(failure(exact)).toBe('f.ckpt: corrupt header');
    expect(failure(withHeader(good, (h) => (h.format = 2)))).toBe('f.ckpt: format 2, this build reads 1');
    expect(failure(withHeader(good, (h) => (h.runKey = 'b'.repeat(64))))).toBe(
      `f.ckpt: written for another run config (key bbbbbbbbbbbb, this run ${key.slice(0, 12)})`,
    );
    expect(failure(withHeader(good, (h) => delete h.runKey))).toBe(`f.ckpt: written for another run config (key , this run ${key.slice(0, 12)})`);
  });

  it('with a missing section or D-phase statistics that are not finite numbers', () => {
    expect(failure(withHeader(good, (h) => ((h.parts as { name: string }[])[0]!.name = 'other')))).toBe('f.ckpt: no dWeights section');
    expect(failure(withHeader(good, (h) => ((h.parts as { name: string }[])[2]!.name = 'other')))).toBe('f.ckpt: no dAdam section');
    for (const dPhase of [
      { loss: 1, dReal: 0.5 },
      { loss: 1, dReal: 'x', dFake: 0 },
      { loss: null, dReal: 0, dFake: 0 },
      { loss: 1, dReal: 0, dFake: '<1e999>' },
      5,
    ]) {
      expect(failure(withHeader(good, (h) => (h.dPhase = dPhase))), JSON.stringify(dPhase)).toBe('f.ckpt: corrupt header (dPhase)');
    }
    expect(
      decodeCheckpoint(
        withHeader(good, (h) => (h.dPhase = { loss: 1, dReal: 2, dFake: 3 })),
        [key],
        'x',
      ).dPhase,
    ).toEqual({ loss: 1, dReal: 2, dFake: 3 });
  });

  it('accepts any of several keys, the first named in the error', () => {
    expect(decodeCheckpoint(good, ['c'.repeat(64), key], 'x').nextStep).toBe(2);
    expect(() => decodeCheckpoint(good, ['c'.repeat(64)], 'x')).toThrow('this run cccccccccccc');
  });
});

describe('nonFiniteIn names the array and the index', () => {
  it('for each part of the state, including the first value', () => {
    const cases: [string, (d: TrainingStateData) => Float32Array][] = [
      ['D weight', (d) => d.dWeights],
      ['G weight', (d) => d.gWeights],
      ["D's first moment", (d) => d.dAdam.m],
      ["D's second moment", (d) => d.dAdam.v],
      ["G's first moment", (d) => d.gAdam.m],
      ["G's second moment", (d) => d.gAdam.v],
    ];
    for (const [what, array] of cases) {
      const data = stateAt(1);
      array(data)[0] = Number.NaN;
      expect(nonFiniteIn(data)).toBe(`${what} 0 is NaN`);
    }
    expect(nonFiniteIn(stateAt(1))).toBeNull();
  });

  it("for G's moving average when the run keeps one", () => {
    const withAverage = makeRunConfig('default');
    const s = new TrainingState(withAverage);
    s.apply('G', new Float64Array(s.gWeights.length).fill(0.1));
    const data = s.data();
    expect(data.gEma).not.toBeNull();
    data.gEma![5] = Number.NEGATIVE_INFINITY;
    expect(nonFiniteIn(data)).toBe("G's moving average 5 is -Infinity");
  });

  it('passes a finite state whose run keeps no moving average', () => {
    const data = new TrainingState({ ...makeRunConfig('tiny'), gEmaDecay: null }).data();
    expect(data.gEma).toBeNull();
    expect(nonFiniteIn(data)).toBeNull();
  });
});

describe('CheckpointStore', () => {
  it('lists only checkpoint names, newest first by step number, and keeps the newest 3', () => {
    const s = store('list');
    for (const step of [1, 2, 10, 9]) s.save(stateAt(step));
    writeFileSync(join(s.dir, 'step-000005.ckpt.tmp'), 'x');
    writeFileSync(join(s.dir, 'xstep-000004.ckpt'), 'x');
    expect(s.list()).toEqual(['step-000010.ckpt', 'step-000009.ckpt', 'step-000002.ckpt']);
    expect(readFileSync(join(s.dir, 'latest'), 'utf8')).toBe('step-000009.ckpt\n');
  });

  it('loads what latest points at, even when it is not the newest by name', () => {
    const s = store('pointer');
    s.save(stateAt(4));
    s.save(stateAt(3));
    expect(s.loadLatest(() => undefined)?.data.nextStep).toBe(3);
    writeFileSync(join(s.dir, 'latest'), '  step-000004.ckpt \n');
    expect(s.loadLatest(() => undefined)?.data.nextStep).toBe(4);
  });

  it('loadAtOrBefore: the newest whole-step state at or before a step, skipping mid-step and broken ones with the reason', () => {
    const s = store('at-or-before');
    s.save(stateAt(2));
    s.save(stateAt(4));
    s.save(stateAt(5, true));
    const warnings: string[] = [];
    expect(s.loadAtOrBefore(5, (w) => warnings.push(w))?.data.nextStep).toBe(4);
    expect(s.loadAtOrBefore(4, (w) => warnings.push(w))?.data.nextStep).toBe(4);
    expect(s.loadAtOrBefore(3, (w) => warnings.push(w))?.data.nextStep).toBe(2);
    expect(s.loadAtOrBefore(1, (w) => warnings.push(w))).toBeNull();
    expect(warnings).toEqual([]);
    writeFileSync(join(s.dir, 'step-000004.ckpt'), 'broken');
    expect(s.loadAtOrBefore(4, (w) => warnings.push(w))?.data.nextStep).toBe(2);
    expect(warnings).toEqual([expect.stringMatching(/^skipping checkpoint .*step-000004\.ckpt: .*bad magic/)]);
  });

  it('dropAfter removes later states and points latest at the newest left, or removes it', () => {
    const s = store('drop');
    for (const step of [1, 2, 3]) s.save(stateAt(step));
    s.dropAfter(2);
    expect(s.list()).toEqual(['step-000002.ckpt', 'step-000001.ckpt']);
    expect(readFileSync(join(s.dir, 'latest'), 'utf8')).toBe('step-000002.ckpt\n');
    s.dropAfter(1);
    expect(s.list()).toEqual(['step-000001.ckpt']);
    s.dropAfter(0);
    expect(readdirSync(s.dir)).toEqual([]);
    expect(existsSync(join(s.dir, 'latest'))).toBe(false);
  });

  it('reads checkpoints written under an also-accepted key', () => {
    const s = store('also');
    writeFileSync(join(s.dir, 'step-000007.ckpt'), encodeCheckpoint(stateAt(7), 'd'.repeat(64)));
    expect(s.loadLatest(() => undefined)).toBeNull();
    const also = new CheckpointStore(s.dir, key, 3, ['d'.repeat(64)]);
    expect(also.loadLatest(() => undefined)?.data.nextStep).toBe(7);
  });
});
