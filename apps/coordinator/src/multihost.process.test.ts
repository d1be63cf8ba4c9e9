import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readMetrics, readSummary, runToEnd, tempDir } from './test-support/processes.js';

const SCRIPT = fileURLToPath(new URL('../../../tools/multihost/multihost.sh', import.meta.url));
const tmp = tempDir();
afterAll(() => tmp.remove());

function probe(commands: string[][]): string | null {
  for (const cmd of commands) {
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) return `\`${cmd.join(' ')}\` failed: ${(r.stderr || r.error?.message || '').trim()}`;
  }
  return null;
}

const ns = `dgprobe${process.pid}`;

/** Why this kernel cannot put the queueing discipline `qdisc` on a veth (null: it can). */
function qdiscProblem(...qdisc: string[]): string | null {
  const problem = probe([
    ['ip', 'link', 'add', `${ns}a`, 'type', 'veth', 'peer', 'name', `${ns}b`],
    ['tc', 'qdisc', 'add', 'dev', `${ns}a`, 'root', ...qdisc],
  ]);
  spawnSync('ip', ['link', 'del', `${ns}a`]);
  return problem;
}

/** What this machine lacks for each variant, probed once, by the first test that needs it (null: nothing). */
let problems: { namespaces: string | null; netem: string | null; tbf: string | null } | undefined;
function machineProblems(): NonNullable<typeof problems> {
  if (!problems) {
    const namespaces = probe([
      ['ip', 'netns', 'add', ns],
      ['ip', 'netns', 'del', ns],
    ]);
    problems = {
      namespaces,
      netem: namespaces ?? qdiscProblem('netem', 'delay', '1ms'),
      tbf: namespaces ?? qdiscProblem('tbf', 'rate', '1mbit', 'burst', '64kb', 'latency', '200ms'),
    };
  }
  return problems;
}

/** Skips the test, saying why in the report, when the machine lacks what `variant` needs. */
function requireMachine(context: { skip: (note?: string) => void }, variant: 'namespaces' | 'netem' | 'tbf'): void {
  const problem = machineProblems()[variant];
  if (problem) context.skip(`multihost ${variant === 'namespaces' ? '' : `${variant} variant `}skipped: ${problem}`);
}

const ARGS = ['--preset', 'tiny', '--steps', '4', '--shards', '4', '--seed', '11', '--sample-every', '0'];

function multihost(flags: string[], runDir: string): { status: number | null; output: string } {
  // Both workers must be in before step 0: the tiny run would otherwise end before a worker still
  // backing off from an early connection attempt came back.
  const r = spawnSync(SCRIPT, [...flags, '--', ...ARGS, '--min-workers', '2', '--run-dir', runDir], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe('across machines for real: coordinator and workers in separate network namespaces', () => {
  it('refuses a shaper it does not know, and tbf without --rate or with --delay, before touching the network', () => {
    for (const [flags, message] of [
      [['--shaper', 'htb'], /--shaper must be netem or tbf, got htb/],
      [['--shaper', 'tbf'], /--shaper tbf needs --rate/],
      [['--shaper', 'tbf', '--rate', '1gbit', '--delay', '5ms'], /--shaper tbf cannot add delay/],
    ] as const) {
      const runDir = `${tmp.path}/refused-${flags.length}`;
      const { status, output } = multihost([...flags], runDir);
      expect(status, output).toBe(2);
      expect(output).toMatch(message);
      expect(existsSync(runDir)).toBe(false);
    }
  });

  it('3 hosts joined by veth on a bridge train to the in-process hash', async (context) => {
    requireMachine(context, 'namespaces');
    const reference = (await runToEnd([...ARGS, '--in-process', '--run-dir', `${tmp.path}/ref`])).summary.weightsSha256;
    const { status, output } = multihost(['--workers', '2'], `${tmp.path}/mh`);
    expect(status, output).toBe(0);
    expect(output).toMatch(/worker w\d \(host2@/);
    expect(output).toMatch(/worker w\d \(host3@/);
    expect(readSummary(`${tmp.path}/mh`).weightsSha256).toBe(reference);
  });

  it('with every link rate-limited by tbf: the same hash, and the shaper held traffic back', async (context) => {
    requireMachine(context, 'tbf');
    const reference = (await runToEnd([...ARGS, '--in-process', '--run-dir', `${tmp.path}/ref3`])).summary.weightsSha256;
    const { status, output } = multihost(['--workers', '2', '--shaper', 'tbf', '--rate', '8mbit'], `${tmp.path}/mh-tbf`);
    expect(status, output).toBe(0);
    expect(readSummary(`${tmp.path}/mh-tbf`).weightsSha256).toBe(reference);
    // The script reports the tbf counters of the coordinator's link before tearing it down: every
    // byte the coordinator received passed its inbound bucket, which had to hold packets back
    // (at 8 Mbit/s a step's 0.4 MB cannot pass unthrottled). Timings stay out of the test.
    const stats = (direction: string) => {
      const m = new RegExp(`coordinator link ${direction}: Sent (\\d+) bytes \\d+ pkt \\(dropped \\d+, overlimits (\\d+)`).exec(output);
      expect(m, output).not.toBeNull();
      return { sent: Number(m![1]), overlimits: Number(m![2]) };
    };
    const bytesIn = readMetrics(`${tmp.path}/mh-tbf`).reduce((sum, m) => sum + (m.bytesIn as number), 0);
    const inbound = stats('in');
    expect(inbound.sent).toBeGreaterThanOrEqual(bytesIn);
    expect(inbound.overlimits).toBeGreaterThan(0);
    expect(stats('out').overlimits).toBeGreaterThan(0);
  });

  it('with 5 ms netem delay on every link, still the same hash', async (context) => {
    requireMachine(context, 'netem');
    const reference = (await runToEnd([...ARGS, '--in-process', '--run-dir', `${tmp.path}/ref2`])).summary.weightsSha256;
    const { status, output } = multihost(['--workers', '2', '--delay', '5ms'], `${tmp.path}/mh-delay`);
    expect(status, output).toBe(0);
    expect(readSummary(`${tmp.path}/mh-delay`).weightsSha256).toBe(reference);
  });
});
