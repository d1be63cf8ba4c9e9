import { InvalidArgumentError, Option } from 'commander';
import { BACKEND_CHOICES, BACKEND_ENV, defaultBackendChoice } from './backend.js';
import { LOG_FORMAT_ENV, LOG_FORMATS, parseLogFormat } from './log-line.js';
import { TOKEN_ENV, TOKEN_FILE_ENV } from './token.js';

/** A commander argument parser for integers in [min, max], with a message naming the bad value. */
export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}, got "${value}"` : `expected an integer in [${min}, ${max}], got "${value}"`,
      );
    }
    return n;
  };
}

/** The `--backend` option every distgan command shares: auto, node, wasm or cpu (default `DISTGAN_BACKEND`, else auto). */
export function backendOption(): Option {
  return new Option('--backend <name>', `TensorFlow.js backend (auto: node, else wasm, else cpu; default from ${BACKEND_ENV})`)
    .choices(BACKEND_CHOICES as string[])
    .default(defaultBackendChoice());
}

/** `--log-format text|json` (default `DISTGAN_LOG_FORMAT`, else text); `setLogFormat` applies it. */
export function logFormatOption(env: NodeJS.ProcessEnv = process.env): Option {
  const fromEnv = env[LOG_FORMAT_ENV];
  return new Option('--log-format <format>', `log lines as text or one JSON object each (default from ${LOG_FORMAT_ENV}, else text)`)
    .choices(LOG_FORMATS as string[])
    .default(fromEnv ? parseLogFormat(fromEnv) : 'text');
}

/** `--token` and `--token-file`, which `resolveToken` reads. */
export function tokenOptions(): Option[] {
  return [
    new Option('--token <token>', `shared secret (default: $${TOKEN_ENV}); visible in ps, so prefer --token-file`),
    new Option('--token-file <file>', `file holding the shared secret, e.g. a mounted Docker or Kubernetes secret (default: $${TOKEN_FILE_ENV})`),
  ];
}
