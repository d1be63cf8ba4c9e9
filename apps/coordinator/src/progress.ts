import { logFormat, logLine } from '@distgan/runtime';
import type { StepMetrics } from '@distgan/run-store';

function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The terminal progress line: rewritten in place on a TTY, plain lines at most every
 * `plainEveryMs` (and for the last step) when stdout is a file or a CI log.
 */
export class ProgressLine {
  private lastPlain = 0;
  private readonly started = Date.now();
  private drawn = false;

  constructor(
    private readonly totalSteps: number,
    private readonly firstStep: number,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly plainEveryMs = 5_000,
  ) {}

  format(m: StepMetrics): string {
    const done = m.step + 1 - this.firstStep;
    const elapsed = Date.now() - this.started;
    const eta = done > 0 ? (elapsed / done) * (this.totalSteps - m.step - 1) : NaN;
    return (
      `step ${m.step + 1}/${this.totalSteps}  D ${m.dLoss.toFixed(4)}  G ${m.gLoss.toFixed(4)}  ` +
      `D(x) ${m.dReal.toFixed(3)}  D(G(z)) ${m.dFake.toFixed(3)}  ${m.samplesPerSec.toFixed(0)} samples/s  ` +
      `workers ${m.workers}  ETA ${duration(eta)}`
    );
  }

  update(m: StepMetrics): void {
    const line = this.format(m);
    if (logFormat() === 'json') {
      // For a log collector: the same cadence as plain lines, as a JSON log line with the numbers as fields.
      if (!this.due(m)) return;
      const { step, dLoss, gLoss, dReal, dFake, samplesPerSec, workers } = m;
      logLine('coordinator', line, 'info', { event: 'progress', step, steps: this.totalSteps, dLoss, gLoss, dReal, dFake, samplesPerSec, workers });
      return;
    }
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
      return;
    }
    if (this.due(m)) this.out.write(`${line}\n`);
  }

  /** Whether a plain line is due: `plainEveryMs` after the last one, or at the last step. */
  private due(m: StepMetrics): boolean {
    const now = Date.now();
    if (now - this.lastPlain < this.plainEveryMs && m.step + 1 !== this.totalSteps) return false;
    this.lastPlain = now;
    return true;
  }

  /** Call before printing anything else so the in-place line is not overwritten mid-way. */
  interrupt(): void {
    if (this.drawn && this.out.isTTY) {
      this.out.write('\n');
      this.drawn = false;
    }
  }
}
