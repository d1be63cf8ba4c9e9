import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findChromium, onPath } from './find-chromium.js';
import { tempDir } from './processes.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

function fakeBrowser(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}

describe('findChromium', () => {
  it('takes CHROMIUM_PATH first, then a browser on the PATH, then the packaged build', async () => {
    const onDisk = fakeBrowser(join(tmp.path, 'a'), 'google-chrome');
    expect(await findChromium({ CHROMIUM_PATH: onDisk, PATH: '' })).toEqual({ path: onDisk, source: 'CHROMIUM_PATH' });
    await expect(findChromium({ CHROMIUM_PATH: join(tmp.path, 'nope') })).rejects.toThrow(/CHROMIUM_PATH=.*nope is not an executable file/);
    const preferred = fakeBrowser(join(tmp.path, 'b'), 'chromium');
    const path = `${join(tmp.path, 'a')}:${join(tmp.path, 'b')}`;
    expect(await findChromium({ PATH: path })).toEqual({ path: preferred, source: 'PATH' });
    expect(onPath(['google-chrome'], path)).toBe(onDisk);
    expect(onPath(['chromium'], join(tmp.path, 'a'))).toBeNull();
    const packaged = await findChromium({ PATH: join(tmp.path, 'empty') });
    expect(packaged.source).toBe('@sparticuz/chromium');
  }, 60_000);
});
