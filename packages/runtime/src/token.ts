import { readFileSync } from 'node:fs';

/** The environment variables the commands read the shared token from: the token itself, or a file holding it (a mounted secret). */
export const TOKEN_ENV = 'DISTGAN_TOKEN';
export const TOKEN_FILE_ENV = 'DISTGAN_TOKEN_FILE';

/**
 * The shared token: `--token`, else the file `--token-file` names, else `DISTGAN_TOKEN`, else the
 * file `DISTGAN_TOKEN_FILE` names; undefined when none is set. A file's content is the token
 * without its trailing newline (as `echo secret > file` or a Kubernetes Secret leaves it). Throws a
 * message naming the flag or variable for both flags at once, an unreadable file or an empty token.
 */
export function resolveToken(flags: { token?: string | undefined; tokenFile?: string | undefined }, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flags.token !== undefined && flags.tokenFile !== undefined) throw new Error('--token and --token-file both give the token: pass one');
  if (flags.token !== undefined) return nonEmpty(flags.token, '--token');
  if (flags.tokenFile !== undefined) return fromFile(flags.tokenFile, '--token-file');
  if (env[TOKEN_ENV]) return env[TOKEN_ENV];
  if (env[TOKEN_FILE_ENV]) return fromFile(env[TOKEN_FILE_ENV], TOKEN_FILE_ENV);
  return undefined;
}

function fromFile(path: string, where: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${where} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return nonEmpty(text.replace(/\r?\n$/, ''), `${where} ${path}`);
}

function nonEmpty(token: string, where: string): string {
  if (token.length === 0) throw new Error(`${where}: the token is empty`);
  return token;
}
