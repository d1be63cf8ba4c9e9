import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'distgan-eval-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 600_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run eval (CI-sized samples)', () => {
  it('--real prints one JSON line of reference values', () => {
    const { status, stdout, stderr } = run(['--real', '--samples', '500']);
    expect(status, stderr).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const m = JSON.parse(lines[0]!) as Record<string, number | string>;
    expect(m.source).toBe('real');
    expect(m.samples).toBe(500);
    expect(m.testClassifierScore as number).toBeGreaterThan(9);
    expect(m.frechetDistance as number).toBeLessThan(5);
  });

  it('says what is wrong for a folder that is not a run, and for neither flag', () => {
    const notRun = run(['--run', tmp, '--samples', '10']);
    expect(notRun.status).toBe(1);
    expect(notRun.stderr).toMatch(/is not a run directory \(no config\.json\)/);
    const neither = run(['--samples', '10']);
    expect(neither.status).toBe(1);
    expect(neither.stderr).toMatch(/pass exactly one of --run DIR or --real/);
  });
});
