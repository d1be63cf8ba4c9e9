import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/** Records one event: a name and a few numbers or strings. */
export type Trace = (event: string, fields?: Readonly<Record<string, number | string>>) => void;

const noTrace: Trace = () => undefined;

/**
 * A per-process event trace for finding where a step's time goes. With DISTGAN_TRACE=DIR set,
 * events go to DIR/<name>-<pid>.jsonl, one JSON line each with `t`, epoch milliseconds with
 * sub-millisecond resolution (comparable across the processes of one machine). Lines are kept
 * in memory and written every 2,000 events and at exit, so tracing costs microseconds per
 * event. Without the variable it is a no-op.
 */
export function traceFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): Trace {
  const dir = env.DISTGAN_TRACE;
  if (!dir) return noTrace;
  const file = join(dir, `${name}-${process.pid}.jsonl`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, '');
  } catch (err) {
    // A diagnostic aid must not stop training: say why there is no trace and go on.
    process.stderr.write(`DISTGAN_TRACE: cannot write ${file} (${(err as Error).message}); not tracing\n`);
    return noTrace;
  }
  let lines: string[] = [];
  const flush = () => {
    if (lines.length === 0) return;
    appendFileSync(file, `${lines.join('\n')}\n`);
    lines = [];
  };
  process.on('exit', flush);
  // Garbage collection pauses too (V8 reports them after the fact, with their start time).
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      lines.push(JSON.stringify({ t: performance.timeOrigin + entry.startTime, event: 'gc', ms: entry.duration, kind }));
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  return (event, fields) => {
    lines.push(JSON.stringify({ t: performance.timeOrigin + performance.now(), event, ...fields }));
    if (lines.length >= 2_000) flush();
  };
}
