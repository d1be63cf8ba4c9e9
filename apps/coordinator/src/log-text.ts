/**
 * Text a peer sent (a worker's name, host, backend, error message), made safe to print on a
 * terminal or show on the dashboard: every Unicode control, format and separator character
 * (categories Cc, Cf, Zl, Zp: newlines, ANSI escape sequences, DEL, C1 controls, right-to-left
 * overrides, zero-width characters, U+2028) becomes a visible escape such as `\n`, `\x1b` or
 * `\u202e`, so a worker cannot forge log lines, restyle the coordinator's terminal or reorder
 * what a reader sees.
 */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default: {
        const code = c.codePointAt(0) ?? 0;
        return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
      }
    }
  });
}
