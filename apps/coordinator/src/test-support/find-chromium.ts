import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Names a Chromium or Chrome goes by on Linux, in order of preference. */
const BROWSER_NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first of `names` found as an executable on `searchPath` (a PATH value). */
export function onPath(names: readonly string[], searchPath: string): string | null {
  for (const name of names) {
    for (const dir of searchPath.split(delimiter)) {
      if (dir && executable(join(dir, name))) return join(dir, name);
    }
  }
  return null;
}

export interface FoundChromium {
  readonly path: string;
  /** Where it came from, for the test's report. */
  readonly source: 'CHROMIUM_PATH' | 'PATH' | '@sparticuz/chromium';
}

/**
 * A Chromium for the browser tests, with no install by hand: `CHROMIUM_PATH` when set (it must
 * exist), else a Chromium or Chrome on the PATH, else the build the devDependency
 * `@sparticuz/chromium` ships inside its npm tarball (unpacked to the temp folder on first use).
 * Throws, saying what was tried, only when none of them gives one.
 */
export async function findChromium(env: NodeJS.ProcessEnv = process.env): Promise<FoundChromium> {
  if (env.CHROMIUM_PATH) {
    if (!executable(env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file`);
    return { path: env.CHROMIUM_PATH, source: 'CHROMIUM_PATH' };
  }
  const installed = onPath(BROWSER_NAMES, env.PATH ?? '');
  if (installed) return { path: installed, source: 'PATH' };
  try {
    const packaged = (await import('@sparticuz/chromium')).default;
    return { path: await packaged.executablePath(), source: '@sparticuz/chromium' };
  } catch (err) {
    throw new Error(
      `no Chromium found: CHROMIUM_PATH is unset, none of ${BROWSER_NAMES.join(', ')} is on the PATH, and @sparticuz/chromium failed (${(err as Error).message}); ` +
        'run npm ci (it installs @sparticuz/chromium), or set CHROMIUM_PATH',
    );
  }
}
