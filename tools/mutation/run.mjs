#!/usr/bin/env node
// npm run mutation: StrykerJS over the modules in stryker.config.mjs (README.md in this folder).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `npm run mutation needs Node.js 22 or later (StrykerJS 10 does); this is ${process.version}.\n` +
      'Run it with a newer Node first on PATH, e.g. PATH=/path/to/node-24/bin:$PATH npm run mutation\n',
  );
  process.exit(2);
}
const config = fileURLToPath(new URL('./stryker.config.mjs', import.meta.url));
const stryker = fileURLToPath(new URL('../../node_modules/@stryker-mutator/core/bin/stryker.js', import.meta.url));
const result = spawnSync(process.execPath, [stryker, 'run', config, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
