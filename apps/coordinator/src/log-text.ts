/**
 * Text a peer sent (a worker's name, host, error message), made safe to print on a terminal:
 * control characters (C0, DEL, C1: newlines, ANSI escape sequences) become visible escapes such
 * as `\n` or `\x1b`, so a worker cannot forge log lines or restyle the coordinator's terminal.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    }
  });
}
