import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { traceFromEnv } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'distgan-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('traceFromEnv', () => {
  it('is one shared no-op without DISTGAN_TRACE (or with it empty)', () => {
    expect(traceFromEnv('a', {})).toBe(traceFromEnv('b', { DISTGAN_TRACE: '' }));
    expect(traceFromEnv('a', {})('event')).toBeUndefined();
  });

  it('says why and does not trace when DIR cannot be written', () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, '');
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(traceFromEnv('probe', { DISTGAN_TRACE: join(blocker, 'sub') })).toBe(traceFromEnv('probe', {}));
    } finally {
      process.stderr.write = write;
    }
    expect(lines.join('')).toMatch(/^DISTGAN_TRACE: cannot write .*a-file\/sub\/probe-\d+\.jsonl \(.*\); not tracing\n$/);
  });

  it('writes DIR/<name>-<pid>.jsonl lines with epoch times in order, in batches of 2,000', () => {
    const on = join(dir, 'on');
    const before = Date.now();
    const trace = traceFromEnv('probe', { DISTGAN_TRACE: on });
    for (let i = 0; i < 2_001; i++) trace('tick', { i, phase: 'D' });
    expect(readdirSync(on)).toEqual([`probe-${process.pid}.jsonl`]);
    const written = readFileSync(join(on, `probe-${process.pid}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { t: number; event: string; i: number; phase: string });
    // Garbage-collection events may be interleaved (V8 reports them afterwards, with their start time).
    const lines = written.filter((l) => l.event === 'tick');
    expect(lines).toHaveLength(2_000); // the 2,001st waits for the next batch or exit
    expect(lines[0]).toMatchObject({ event: 'tick', i: 0, phase: 'D' });
    expect(lines[0]!.t).toBeGreaterThanOrEqual(before - 1);
    expect(lines.every((l, k) => k === 0 || l.t >= lines[k - 1]!.t)).toBe(true);
  });
});
