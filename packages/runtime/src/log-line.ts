/**
 * How the commands write their log lines (stderr): `text`, `[source] message` for a terminal, or
 * `json`, one object a line (`time`, `level`, `source`, `message`, and any fields) for a log
 * collector. One setting per process, chosen by `--log-format` (default `DISTGAN_LOG_FORMAT`).
 */
export type LogFormat = 'text' | 'json';
export type LogLevel = 'info' | 'warn' | 'error';

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
export const LOG_FORMAT_ENV = 'DISTGAN_LOG_FORMAT';

let current: LogFormat = 'text';

/**
 * Sets the process's format. In `json`, Node's own warnings (deprecations, ...) become JSON lines
 * of `source` too, so that a collector reading stderr sees nothing but JSON.
 */
export function setLogFormat(format: LogFormat, source = 'node'): void {
  current = format;
  if (format !== 'json') return;
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) =>
    logLine(source, `${warning.name}: ${warning.message}`, 'warn', warning.code ? { code: warning.code } : {}),
  );
}

export function logFormat(): LogFormat {
  return current;
}

export function parseLogFormat(value: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new Error(`unknown log format "${value}": expected ${LOG_FORMATS.join(' or ')}`);
}

/** One log line in the process's format. */
export function formatLogLine(source: string, message: string, level: LogLevel = 'info', fields: Readonly<Record<string, unknown>> = {}): string {
  if (current === 'json') return `${JSON.stringify({ time: new Date().toISOString(), level, source, message, ...fields })}\n`;
  return `[${source}] ${message}\n`;
}

export function logLine(source: string, message: string, level: LogLevel = 'info', fields: Readonly<Record<string, unknown>> = {}): void {
  process.stderr.write(formatLogLine(source, message, level, fields));
}

/**
 * The line a command ends with when it fails: `COMMAND: error: MESSAGE` as text (what scripts and
 * tests match), or a JSON log line at level `error`.
 */
export function logFatal(command: string, message: string): void {
  if (current === 'json') logLine(command, `error: ${message}`, 'error');
  else process.stderr.write(`${command}: error: ${message}\n`);
}
