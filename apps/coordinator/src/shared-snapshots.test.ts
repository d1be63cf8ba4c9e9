import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedSnapshots } from './shared-snapshots.js';

const opened: SharedSnapshots[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function folder(): SharedSnapshots {
  const shared = new SharedSnapshots();
  opened.push(shared);
  return shared;
}

const floatsIn = (shared: SharedSnapshots, file: string) => new Float32Array(new Uint8Array(readFileSync(join(shared.dir, file))).buffer);

describe('SharedSnapshots', () => {
  it('writes each version once, as raw float32 bytes, under a name of its own', () => {
    const shared = folder();
    const weights = Float32Array.of(1.5, -2, 3e-8);
    const first = shared.current('D', 0, weights);
    expect(shared.current('D', 0, Float32Array.of(9, 9, 9))).toBe(first); // the same version: not written again
    expect(Array.from(floatsIn(shared, first.file))).toEqual(Array.from(weights));
    const g = shared.current('G', 0, Float32Array.of(4));
    expect(g.file).not.toBe(first.file);
    expect(first).toMatchObject({ net: 'D', version: 0 });
  });

  it('keeps the latest two versions of each network and deletes older ones', () => {
    const shared = folder();
    const d = [0, 1, 2, 3].map((v) => shared.current('D', v, Float32Array.of(v)));
    const g = shared.current('G', 0, Float32Array.of(7));
    expect(readdirSync(shared.dir).sort()).toEqual([d[2]!.file, d[3]!.file, g.file].sort());
    expect(Array.from(floatsIn(shared, d[3]!.file))).toEqual([3]);
  });

  it('gives a version that comes back (the run returned to an earlier step) a new file with the new weights', () => {
    const shared = folder();
    const before = shared.current('D', 5, Float32Array.of(1));
    shared.current('D', 6, Float32Array.of(2));
    const again = shared.current('D', 5, Float32Array.of(3));
    expect(again.file).not.toBe(before.file);
    expect(Array.from(floatsIn(shared, again.file))).toEqual([3]);
  });

  it("removes folders whose coordinator is gone when it makes its own, and keeps a running one's", () => {
    const parent = mkdtempSync(join(tmpdir(), 'distgan-parent-'));
    try {
      const dead = spawnSync(process.execPath, ['-e', '']).pid!; // exited by the time spawnSync returns
      const abandoned = join(parent, `distgan-snapshots-${dead}-abc123`);
      const running = join(parent, `distgan-snapshots-${process.ppid}-def456`);
      const unrelated = join(parent, 'distgan-snapshots-other');
      for (const dir of [abandoned, running, unrelated]) mkdirSync(dir);
      writeFileSync(join(abandoned, 'D-0-1.f32'), new Uint8Array(8));
      const shared = new SharedSnapshots(parent);
      expect(existsSync(abandoned)).toBe(false);
      expect([running, unrelated].map((dir) => existsSync(dir))).toEqual([true, true]);
      expect(shared.dir.startsWith(join(parent, `distgan-snapshots-${process.pid}-`))).toBe(true);
      shared.close();
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('writes from a view at an offset, and close() removes the folder', () => {
    const shared = folder();
    const backing = Float32Array.of(0, 1, 2, 3);
    const { file } = shared.current('G', 1, backing.subarray(1, 3));
    expect(Array.from(floatsIn(shared, file))).toEqual([1, 2]);
    shared.close();
    expect(existsSync(shared.dir)).toBe(false);
  });
});
