import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const TOOLS = ['bench', 'sweep', 'calibrate', 'diagnose', 'trace-report'];
const run = (tool: string, args: string[]) =>
  spawnSync(process.execPath, [fileURLToPath(new URL(`../dist/${tool}.js`, import.meta.url)), ...args], { encoding: 'utf8' });

describe('every tool answers --help and refuses unknown options with its usage', () => {
  for (const tool of TOOLS) {
    it(tool, () => {
      const help = run(tool, ['--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^usage: npm run ${tool}`));
      const bad = run(tool, ['--no-such-option']);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/Unknown option '--no-such-option'[\s\S]*usage: npm run/);
    });
  }
});
