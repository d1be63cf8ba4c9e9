#!/usr/bin/env node
/**
 * npm run trace-report -- DIR [--skip-steps 3]: where a traced run's phases spent their time.
 * Trace a run with DISTGAN_TRACE=DIR set for the coordinator (its local workers inherit it; set
 * it for external workers on the same machine too), then point this at DIR.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { phaseBreakdowns, type PhaseBreakdown, type TraceEvent } from './trace-breakdown.js';
import { toolArgs } from './tool-args.js';

const USAGE = `usage: npm run trace-report -- DIR [--skip-steps N]

Summarises where the phases of a run traced with DISTGAN_TRACE=DIR spent their time (the first
--skip-steps steps, default 3, are left out as warm-up).
`;
const { values, positionals } = toolArgs(USAGE, { allowPositionals: true, options: { 'skip-steps': { type: 'string', default: '3' } } });
const dir = positionals[0];
const skip = Number(values['skip-steps']);
if (!dir || !(Number.isInteger(skip) && skip >= 0)) {
  process.stderr.write(USAGE);
  process.exit(2);
}
const read = (prefix: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith(`${prefix}-`) && f.endsWith('.jsonl'))
    .map((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as TraceEvent),
    );
let coordinators: TraceEvent[][];
try {
  coordinators = read('coordinator');
} catch (err) {
  process.stderr.write(`trace-report: cannot read ${dir}: ${(err as Error).message}\n`);
  process.exit(1);
}
if (coordinators.length !== 1) {
  process.stderr.write(`trace-report: expected one coordinator-<pid>.jsonl in ${dir}, found ${coordinators.length} (trace one run per folder)\n`);
  process.exit(1);
}
const phases = phaseBreakdowns(coordinators[0]!, read('worker')).filter((p) => p.step >= skip);
if (phases.length === 0) {
  process.stderr.write(`trace-report: no complete phase after step ${skip} in ${dir}\n`);
  process.exit(1);
}
const columns: [keyof PhaseBreakdown, string][] = [
  ['totalMs', 'phase total'],
  ['dispatchMs', 'encode + hand snapshot and tasks to sockets'],
  ['toWorkersMs', 'until the first worker computes'],
  ['computeMs', "busiest worker's compute"],
  ['aheadMs', "next D tasks' real-image share, computed ahead"],
  ['resultBackMs', 'last compute end to its result folded'],
  ['betweenPhasesMs', 'optimizer step and bookkeeping'],
  ['coordinatorGcMs', "coordinator's garbage collection (any time)"],
  ['workerGcMs', "a worker's garbage collection (the most)"],
];
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
for (const phase of [...new Set(phases.map((p) => p.phase))]) {
  const rows = phases.filter((p) => p.phase === phase);
  process.stdout.write(`${phase} phase, ${rows.length} phases (ms)       median      p90\n`);
  for (const [key, what] of columns) {
    const xs = rows.map((r) => r[key] as number);
    process.stdout.write(`  ${what.padEnd(46)}${quantile(xs, 0.5).toFixed(1).padStart(7)}  ${quantile(xs, 0.9).toFixed(1).padStart(7)}\n`);
  }
}
