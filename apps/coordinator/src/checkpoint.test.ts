import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointKey, makeRunConfig, runConfigHash, TrainingState } from '@distgan/training';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointStore, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { tempDir } from './test-support/processes.js';

const tmp = tempDir();
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

  it('returns null (not a crash) when there is no checkpoint at all', () => {
    expect(new CheckpointStore(join(tmp.path, 'none'), hash).loadLatest(() => undefined)).toBeNull();
  });
});
