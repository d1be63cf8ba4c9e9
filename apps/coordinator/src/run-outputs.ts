import { toUnitRange, type QualityEvaluator, type QualityMetrics } from '@distgan/eval';
import { computeToArray, fillNoise } from '@distgan/models';
import { randomStream } from '@distgan/rng';
import { GanNetworks, probeSample, type RunConfig, type StepResult, type TrainingState } from '@distgan/training';
import { ProgressLine } from './progress.js';
import { renderSampleGrid } from './sample-grid.js';
import type { VerifiedStepStats } from './verification.js';
import { type CheckpointStore, exportGenerator, type RunDirectory, type StepMetrics } from '@distgan/run-store';

/** The tutorial's probe of one sample: its largest pixel and D(G(z)). */
export interface Probe {
  readonly maxPixel: number;
  readonly dFake: number;
}

export interface RunOutputsOptions {
  readonly sampleEvery: number;
  /** Score `evalSamples` samples every `evalEvery` steps (0: never; needs an evaluator). */
  readonly evalEvery: number;
  readonly evalSamples: number;
  /** Owned from then on: `dispose()` frees its classifier. */
  readonly evaluator: QualityEvaluator | null;
  /** Where the step stream goes: the tutorial's lines (seed preset), a progress line, or nothing. */
  readonly write: (text: string) => void;
}

/**
 * Everything a run leaves behind, fed one finished step at a time: metrics.jsonl, the terminal's
 * progress (or the tutorial's lines), sample grids, `--eval-every` scores, the tutorial's probe,
 * checkpoints and the exported generator. It reads the state synchronously, so it describes the
 * step it is given even while the next one is being computed.
 */
export class RunOutputs {
  /** Every step's metrics, for the dashboard's API. */
  readonly metrics: StepMetrics[];
  lastSample: string | null = null;
  lastSampleStep: number | null = null;
  lastCheckpoint: string | null = null;
  generatorPath: string | null = null;
  private samples = 0;
  private sampleSeconds = 0;
  private checkpointedAt = '';
  private readonly nets: GanNetworks;
  private progress: ProgressLine | null = null;
  private readonly tutorialLines: boolean;

  constructor(
    private readonly runDir: RunDirectory,
    private readonly config: RunConfig,
    private readonly checkpoints: CheckpointStore,
    private readonly options: RunOutputsOptions,
    earlierMetrics: readonly StepMetrics[],
  ) {
    this.metrics = [...earlierMetrics];
    this.nets = new GanNetworks(config.model);
    this.tutorialLines = config.preset === 'seed';
  }

  /** Starts the step stream (the progress line's clock, or the tutorial's header) just before `firstStep` runs. */
  begin(firstStep: number): void {
    if (this.tutorialLines) this.options.write("i, G loss, D loss, max G(z) pixel, D(G(z))   (the tutorial's columns)\n");
    else this.progress = new ProgressLine(this.config.steps, firstStep);
  }

  /** Records a finished step; returns the tutorial's probe when the run has one (the seed preset's, or a stop rule's). */
  recordStep(state: TrainingState, result: StepResult, stepMs: number, coordinatorCpuMs: number, wire: VerifiedStepStats): Probe | undefined {
    const { config } = this;
    this.samples += config.batchSize;
    this.sampleSeconds += stepMs / 1000;
    const last = state.nextStep === config.steps;
    const wantSample = this.options.sampleEvery > 0 && (result.step % this.options.sampleEvery === 0 || last);
    const evaluator = this.options.evaluator !== null && (result.step % this.options.evalEvery === 0 || last) ? this.options.evaluator : null;
    let probe: Probe | undefined;
    if (this.tutorialLines || config.stopRule) {
      // The tutorial's probe watches training itself: G as trained, never its average.
      this.nets.load('G', state.version('G'), state.gWeights);
      this.nets.load('D', state.version('D'), state.dWeights);
      probe = probeSample(this.nets, config.seed, result.step, config.objective);
    }
    // Samples and evaluation draw from G's average when the run keeps one; else the probe's load of G serves.
    const sampleG = state.sampleWeights();
    if ((wantSample || evaluator) && !(probe && sampleG === state.gWeights)) this.nets.load('G', state.version('G'), sampleG);
    const metrics: StepMetrics = {
      step: result.step,
      dLoss: result.d.loss,
      gLoss: result.g.loss,
      dReal: result.d.dReal,
      dFake: result.d.dFake,
      stepMs,
      samplesPerSec: config.batchSize / (stepMs / 1000),
      workers: wire.workers,
      bytesIn: wire.bytesIn,
      bytesOut: wire.bytesOut,
      shardsByWorker: wire.shardsByWorker,
      shardComputeMs: wire.shardComputeMs,
      coordinatorCpuMs,
      workerCpuMs: wire.workerCpuMs,
      ...(wire.verified !== undefined ? { verified: wire.verified } : {}),
      ...(wire.caught ? { caught: wire.caught } : {}),
      time: new Date().toISOString(),
      ...(probe ? { probeMaxPixel: probe.maxPixel, probeDFake: probe.dFake } : {}),
      ...(evaluator ? { eval: this.evaluate(evaluator, result.step) } : {}),
    };
    this.runDir.appendMetrics(metrics);
    this.metrics.push(metrics);
    if (wantSample) {
      this.lastSample = this.runDir.writeSample(result.step, renderSampleGrid(this.nets, config.seed));
      this.lastSampleStep = result.step;
    }
    if (this.tutorialLines && probe) {
      this.options.write(`${result.step} ${result.g.loss.toFixed(6)} ${result.d.loss.toFixed(6)} ${probe.maxPixel.toFixed(2)} ${probe.dFake.toFixed(6)}\n`);
    } else this.progress?.update(metrics);
    return probe;
  }

  /** A `evalSamples`-sample quality reading of the networks' G (loaded by `recordStep`). */
  private evaluate(evaluator: QualityEvaluator, step: number): QualityMetrics {
    const { config } = this;
    const n = this.options.evalSamples;
    const noise = fillNoise(config.model.noise, randomStream(config.seed, 'eval', step), 0, n);
    const images = computeToArray(() => this.nets.generate(noise, n));
    return evaluator.evaluate(toUnitRange(images, config.model.pixelRange), n);
  }

  /** Writes a checkpoint and the exported generator at the state's step (once per step). */
  async checkpoint(state: TrainingState): Promise<void> {
    // A step and whether its D phase is in: the same step's state before and after its D phase differ.
    const at = `${state.nextStep}${state.dPhase ? '+D' : ''}`;
    if (this.checkpointedAt === at) return;
    this.checkpointedAt = at;
    this.lastCheckpoint = this.checkpoints.save(state.data());
    this.generatorPath = await exportGenerator(this.runDir.layout.generatorDir, this.config, state.sampleWeights(), state.nextStep);
  }

  /** The run returned to the start of `step`: what was recorded from there on is gone (it is computed again). */
  rewind(step: number): void {
    this.metrics.splice(0, this.metrics.length, ...this.metrics.filter((m) => m.step < step));
    this.runDir.truncateMetricsFrom(step);
    this.checkpoints.dropAfter(step);
    this.checkpointedAt = '';
  }

  /** Samples per second over the steps recorded, their compute time only. */
  get meanSamplesPerSec(): number {
    return this.sampleSeconds > 0 ? this.samples / this.sampleSeconds : 0;
  }

  /** Ends the progress line in place, so that a log line can follow. */
  interruptProgress(): void {
    this.progress?.interrupt();
  }

  dispose(): void {
    this.nets.dispose();
    this.options.evaluator?.classifier.dispose();
  }
}
