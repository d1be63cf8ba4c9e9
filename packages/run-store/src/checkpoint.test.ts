import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointKey, makeRunConfig, runConfigHash, TrainingState } from '@distgan/training';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointStore, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';

const tmp = { path: mkdtempSync(join(tmpdir(), 'distgan-run-store-')), remove: () => rmSync(tmp.path, { recursive: true, force: true }) };
afterAll(() => tmp.remove());
const config = makeRunConfig('tiny');
const hash = runConfigHash(config);

function stateAt(step: number): TrainingState {
  const s = new TrainingState(config);
  s.nextStep = step;
  s.apply('D', new Float64Array(s.dWeights.length).fill(0.01 * (step + 1)));
  s.apply('G', new Float64Array(s.gWeights.length).fill(-0.01 * (step + 1))); // moves G's average too
  return s;
}

describe('checkpoints', () => {
  it('round-trip a training state bit for bit', () => {
    const s = stateAt(3);
    const back = new TrainingState(config, decodeCheckpoint(encodeCheckpoint(s.data(), hash), hash, 'x'));
    expect(back.hashes()).toEqual(s.hashes());
    expect(back.nextStep).toBe(3);
    expect(back.version('D')).toBe(1);
  });

  it('keep the last 3 and point latest at the newest', () => {
    const store = new CheckpointStore(join(tmp.path, 'keep'), hash);
    mkdirSync(store.dir, { recursive: true });
    for (const step of [1, 2, 3, 4, 5]) store.save(stateAt(step).data());
    expect(store.list()).toEqual(['step-000005.ckpt', 'step-000004.ckpt', 'step-000003.ckpt']);
    expect(readFileSync(join(store.dir, 'latest'), 'utf8').trim()).toBe('step-000005.ckpt');
  });

  it('fall back to the previous checkpoint when the latest is truncated or corrupt, saying why', () => {
    for (const damage of ['truncate', 'flip', 'other-config'] as const) {
      const store = new CheckpointStore(join(tmp.path, damage), hash);
      mkdirSync(store.dir, { recursive: true });
      store.save(stateAt(1).data());
      const latest = store.save(stateAt(2).data());
      const bytes = readFileSync(latest);
      if (damage === 'truncate') writeFileSync(latest, bytes.subarray(0, bytes.length - 100));
      if (damage === 'flip') {
        bytes[bytes.length - 5]! ^= 0xff;
        writeFileSync(latest, bytes);
      }
      if (damage === 'other-config') writeFileSync(latest, encodeCheckpoint(stateAt(2).data(), 'f'.repeat(64)));
      const warnings: string[] = [];
      const found = store.loadLatest((w) => warnings.push(w));
      expect(found?.data.nextStep).toBe(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch({ truncate: /truncated/, flip: /checksum mismatch/, 'other-config': /another run config/ }[damage]);
    }
  });

  it('of a run fit it at any length (so --resume --steps can extend it), still load when written under the full config hash as before, and refuse another seed', () => {
    const dir = join(tmp.path, 'for-run');
    mkdirSync(dir, { recursive: true });
    new CheckpointStore(dir, runConfigHash(config)).save(stateAt(1).data()); // as distgan wrote them before keying by checkpointKey
    const longer = makeRunConfig('tiny', { steps: config.steps * 10 });
    const store = CheckpointStore.forRun(dir, config);
    expect(store.loadLatest(() => undefined)?.data.nextStep).toBe(1);
    store.save(stateAt(2).data());
    expect(store.runKey).toBe(checkpointKey(longer));
    expect(CheckpointStore.forRun(dir, longer).loadLatest(() => undefined)?.data.nextStep).toBe(2);
    const warnings: string[] = [];
    expect(CheckpointStore.forRun(dir, makeRunConfig('tiny', { seed: 99 })).loadLatest((w) => warnings.push(w))).toBeNull();
    expect(warnings.join('\n')).toMatch(/step-000002\.ckpt: written for another run config[\s\S]*step-000001\.ckpt: written for another run config/);
  });

  it('read a checkpoint whose header names its key `configHash`, as distgan versions before `runKey` wrote it', () => {
    const data = stateAt(1).data();
    const current = encodeCheckpoint(data, hash);
    const headerLength = current.readUInt32LE(4);
    const header = JSON.parse(current.toString('utf8', 8, 8 + headerLength)) as Record<string, unknown>;
    expect(header.runKey).toBe(hash);
    const { runKey, ...rest } = header;
    const oldHeader = Buffer.from(JSON.stringify({ ...rest, configHash: runKey }));
    const prefix = Buffer.from(current.subarray(0, 8));
    prefix.writeUInt32LE(oldHeader.length, 4);
    const old = Buffer.concat([prefix, oldHeader, current.subarray(8 + headerLength)]);
    expect(decodeCheckpoint(old, hash, 'old.ckpt').nextStep).toBe(1);
    expect(() => decodeCheckpoint(old, 'f'.repeat(64), 'old.ckpt')).toThrow(/old\.ckpt: written for another run config/);
  });

  it('never hold a NaN or infinity: refused when written, skipped with the reason when read', () => {
    const poisoned = stateAt(2).data();
    poisoned.dAdam.v[7] = Number.POSITIVE_INFINITY;
    expect(() => encodeCheckpoint(poisoned, hash)).toThrow("refusing to checkpoint step 2: D's second moment 7 is Infinity");
    // One written anyway (by another program, or bits flipped before the checksum): rebuilt with a NaN weight and a valid checksum.
    const good = encodeCheckpoint(stateAt(2).data(), hash);
    const headerLength = good.readUInt32LE(4);
    const header = JSON.parse(good.toString('utf8', 8, 8 + headerLength)) as { payloadSha256: string };
    const payload = Buffer.from(good.subarray(8 + headerLength));
    payload.writeFloatLE(Number.NaN, 4 * 3); // dWeights come first: weight 3
    header.payloadSha256 = createHash('sha256').update(payload).digest('hex');
    const newHeader = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.from(good.subarray(0, 8));
    prefix.writeUInt32LE(newHeader.length, 4);
    const store = new CheckpointStore(join(tmp.path, 'non-finite'), hash);
    mkdirSync(store.dir, { recursive: true });
    store.save(stateAt(1).data());
    const latest = store.save(stateAt(2).data());
    writeFileSync(latest, Buffer.concat([prefix, newHeader, payload]));
    const warnings: string[] = [];
    expect(store.loadLatest((w) => warnings.push(w))?.data.nextStep).toBe(1);
    expect(warnings).toEqual([expect.stringMatching(/step-000002\.ckpt: D weight 3 is NaN/)]);
  });

  it("keep a state stopped between a step's phases, with its D phase's statistics", () => {
    const s = new TrainingState(config);
    s.nextStep = 0;
    s.apply('D', new Float64Array(s.dWeights.length).fill(0.01));
    s.dPhase = { loss: 1.25, dReal: 0.5, dFake: 0.25 };
    const back = decodeCheckpoint(encodeCheckpoint(s.data(), hash), hash, 'x');
    expect(back.dPhase).toEqual(s.dPhase);
    expect(new TrainingState(config, back).hashes()).toEqual(s.hashes());
  });

  it('returns null (not a crash) when there is no checkpoint at all', () => {
    expect(new CheckpointStore(join(tmp.path, 'none'), hash).loadLatest(() => undefined)).toBeNull();
  });
});
