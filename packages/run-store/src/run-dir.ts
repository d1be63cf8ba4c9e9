import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { runLayout, type RunLayout } from './run-layout.js';

/** What a wrong result proved (`--verify`): logged, shown on the dashboard and kept in metrics.jsonl. */
export interface Evidence {
  readonly worker: string;
  readonly step: number;
  readonly phase: 'D' | 'G';
  readonly shard: number;
  readonly workerSha256: string;
  readonly coordinatorSha256: string;
}

/** One line of metrics.jsonl. */
export interface StepMetrics {
  readonly step: number;
  readonly dLoss: number;
  readonly gLoss: number;
  readonly dReal: number;
  readonly dFake: number;
  /**
   * From sending the step's first phase to its last Adam update. The previous step's bookkeeping
   * (probe, samples, evaluation) runs inside this window, while the workers compute, so
   * consecutive steps' times add up to the training loop's wall time (except after a step whose
   * checkpoint or stop rule kept the next one waiting).
   */
  readonly stepMs: number;
  readonly samplesPerSec: number;
  readonly workers: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Shards each worker computed in this step (worker id -> count). */
  readonly shardsByWorker: Readonly<Record<string, number>>;
  /** Sum of the workers' own compute time for this step's shards (in-process: the step time). */
  readonly shardComputeMs: number;
  /**
   * CPU time (user + system) this process used since the previous step ended (in-process: the
   * compute too), and what the workers' results reported for theirs. Their sum over the machine's
   * cores bounds the step time from below where every process shares one machine.
   */
  readonly coordinatorCpuMs: number;
  readonly workerCpuMs: number;
  readonly time: string;
  /** `--verify`: results the coordinator computed again to check them, and wrong ones caught, with their evidence. */
  readonly verified?: number;
  readonly caught?: readonly Evidence[];
  /** The tutorial's probe: max pixel (0..255) and D(G(z)) of one sample, when computed. */
  readonly probeMaxPixel?: number;
  readonly probeDFake?: number;
  /** Quick sample-quality metrics (with --eval-every). */
  readonly eval?: {
    readonly samples: number;
    readonly classifierScore: number;
    readonly frechetDistance: number;
    readonly maxClassShare: number;
    readonly classCounts: number[];
  };
}

/** A run directory being written: its files (`layout`), the metrics lines, JSON files and samples. */
export class RunDirectory {
  readonly layout: RunLayout;

  constructor(root: string) {
    this.layout = runLayout(root);
  }

  get root(): string {
    return this.layout.root;
  }

  /** A path relative to the current folder when inside it (for printing). */
  display(path = this.root): string {
    const rel = relative(process.cwd(), path);
    return rel.startsWith('..') || rel === '' ? path : rel;
  }

  holdsRun(): boolean {
    return existsSync(this.root) && readdirSync(this.root).some((n) => n === 'config.json' || n === 'metrics.jsonl');
  }

  /** Creates the folders; refuses to overwrite another run unless resuming. */
  prepare(resume: boolean): void {
    if (!resume && this.holdsRun()) {
      throw new Error(`run directory ${this.display()} already holds a run: pass --resume to continue it, or choose another --run-dir`);
    }
    if (resume && !this.holdsRun()) throw new Error(`--resume: ${this.display()} holds no run to resume (no config.json)`);
    for (const dir of [this.root, this.layout.samplesDir, this.layout.checkpointsDir]) mkdirSync(dir, { recursive: true });
  }

  writeJson(name: string, value: unknown): void {
    writeFileAtomic(join(this.root, name), `${JSON.stringify(value, null, 2)}\n`);
  }

  readJson(name: string): unknown {
    return JSON.parse(readFileSync(join(this.root, name), 'utf8'));
  }

  /**
   * Appends one metrics line. On resume, lines for steps at or after the checkpoint are dropped
   * first (`truncateMetricsFrom`) so each step appears once.
   */
  appendMetrics(metrics: StepMetrics): void {
    appendFileSync(this.layout.metricsFile, `${JSON.stringify(metrics)}\n`);
  }

  readMetrics(): StepMetrics[] {
    if (!existsSync(this.layout.metricsFile)) return [];
    return readFileSync(this.layout.metricsFile, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as StepMetrics];
        } catch {
          return []; // a line cut by a crash mid-write
        }
      });
  }

  /** Keeps only the metrics of steps before `step` (after resuming from a checkpoint at `step`). */
  truncateMetricsFrom(step: number): void {
    const kept = this.readMetrics().filter((m) => m.step < step);
    writeFileAtomic(this.layout.metricsFile, kept.map((m) => `${JSON.stringify(m)}\n`).join(''));
  }

  samplePath(step: number): string {
    return join(this.layout.samplesDir, `step-${String(step).padStart(6, '0')}.png`);
  }

  writeSample(step: number, png: Uint8Array): string {
    const file = this.samplePath(step);
    writeFileSync(file, png);
    return file;
  }
}

/** `runs/<preset>-s<seed>-<UTC timestamp>` under the current folder. */
export function defaultRunDir(preset: string, seed: number, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return join('runs', `${preset}-s${seed}-${stamp}`);
}
