import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatLogLine, setLogFormat } from './log-line.js';
import { resolveToken } from './token.js';

const dir = mkdtempSync(join(tmpdir(), 'distgan-token-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('resolveToken', () => {
  it('takes --token, else --token-file, else DISTGAN_TOKEN, else DISTGAN_TOKEN_FILE, else none', () => {
    const a = file('a', 'from-file\n');
    const b = file('b', 'from-env-file\r\n');
    const env = { DISTGAN_TOKEN: 'from-env', DISTGAN_TOKEN_FILE: b };
    expect(resolveToken({ token: 'flag' }, env)).toBe('flag');
    expect(resolveToken({ tokenFile: a }, env)).toBe('from-file');
    expect(resolveToken({}, env)).toBe('from-env');
    expect(resolveToken({}, { DISTGAN_TOKEN: '', DISTGAN_TOKEN_FILE: b })).toBe('from-env-file');
    expect(resolveToken({}, {})).toBeUndefined();
  });

  it('keeps everything but one trailing newline', () => {
    expect(resolveToken({ tokenFile: file('spaces', ' tok en \n\n') }, {})).toBe(' tok en \n');
  });
});

describe('log lines', () => {
  it('are [source] text, or one JSON object with time, level, source, message and fields', () => {
    setLogFormat('text');
    expect(formatLogLine('worker w1', 'joined')).toBe('[worker w1] joined\n');
    setLogFormat('json');
    const entry = JSON.parse(formatLogLine('coordinator', 'step 3', 'warn', { step: 3 })) as Record<string, unknown>;
    expect(entry).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: 'warn', source: 'coordinator', message: 'step 3', step: 3 });
    setLogFormat('text');
  });
});
