import { describe, expect, it } from 'vitest';
import { printable } from './log-text.js';

describe('printable', () => {
  it('escapes every control, format and separator character and leaves other text alone', () => {
    expect(printable('a\nb\r\t\u0000\u001b[2J\u007f\u009b')).toBe('a\\nb\\r\\t\\x00\\x1b[2J\\x7f\\x9b');
    // Right-to-left override, zero-width space, byte-order mark, line and paragraph separators, an isolate.
    expect(printable('x\u202ey\u200b\ufeff\u2028\u2029\u2066')).toBe('x\\u{202e}y\\u{200b}\\u{feff}\\u{2028}\\u{2029}\\u{2066}');
    expect(printable('worker-1 é 数字 🙂 \\x41')).toBe('worker-1 é 数字 🙂 \\x41');
  });
});
