import { describe, expect, it } from 'vitest';
import { setLogFormat } from './log-line.js';

describe('JSON log lines', () => {
  it("turn Node's own process warnings into JSON lines of the command's source", async () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      setLogFormat('json', 'worker w1');
      const seen = new Promise((resolve) => process.once('warning', resolve));
      process.emitWarning('old API', { type: 'DeprecationWarning', code: 'DEP9999' });
      await seen;
      await new Promise((r) => setImmediate(r));
    } finally {
      process.stderr.write = write;
      setLogFormat('text');
    }
    const entry = JSON.parse(written.find((l) => l.includes('old API'))!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'warn', source: 'worker w1', message: 'DeprecationWarning: old API', code: 'DEP9999' });
    expect(written.some((l) => l.startsWith('('))).toBe(false);
  });
});
