import { hostname } from 'node:os';
import { loadOrTrainClassifier, QualityEvaluator, toUnitRange, type QualityMetrics } from '@distgan/eval';
import { loadMnist } from '@distgan/mnist';
import { computeToArray, fillNoise } from '@distgan/models';
import { randomStream } from '@distgan/rng';
import { CpuClock, describeSelection, selectBackend, type BackendChoice } from '@distgan/runtime';
import {
  checkDatasetFits,
  GanNetworks,
  LocalExecutor,
  makeRunConfig,
  PRESETS,
  probeSample,
  renderSampleGrid,
  runConfigHash,
  ShardComputer,
  validateRunConfig,
  trainStep,
  TrainingState,
  type PresetName,
  type RunConfig,
  type ShardExecutor,
  type StepResult,
} from '@distgan/training';
import { CheckpointStore } from './checkpoint.js';
import { ProgressLine } from './progress.js';
import { defaultRunDir, RunDirectory, type StepMetrics } from './run-dir.js';
import { exportGenerator } from './generator-export.js';
import { tensorFlowThreads } from './local-workers.js';
import { startRemote, type Remote, type RemoteOptions } from './remote.js';
import { checkListenPolicy, readTlsFiles } from './server.js';
import { PhaseAbortedError } from './worker-pool.js';
import type { StepStats } from './worker-pool.js';

/** Every coordinator option: the run's own, plus the distributed side's (`RemoteOptions`). */
export interface CoordinatorOptions extends RemoteOptions {
  readonly preset: PresetName;
  readonly steps?: number | undefined;
  readonly batchSize?: number | undefined;
  readonly shards?: number | undefined;
  readonly seed?: number | undefined;
  readonly runDir?: string | undefined;
  readonly backend: BackendChoice;
  readonly sampleEvery?: number | undefined;
  /** Compute every shard in this process: no server, no workers. */
  readonly inProcess: boolean;
  readonly checkpointEvery: number;
  readonly resume: boolean;
  /** Every N steps, score `evalSamples` samples with the evaluation classifier into metrics.jsonl (0: never). */
  readonly evalEvery: number;
  readonly evalSamples: number;
  readonly ignoreStopRule: boolean;
}

export interface RunSummary {
  readonly steps: number;
  readonly stoppedEarly: boolean;
  readonly backend: string;
  readonly weightsSha256: string;
  readonly dSha256: string;
  readonly gSha256: string;
  /** SHA-256 of the moving average of G, when the run keeps one. */
  readonly gEmaSha256: string | null;
  readonly configHash: string;
  readonly preset: string;
  readonly seed: number;
  readonly shards: number;
  readonly batchSize: number;
  readonly wallSeconds: number;
  readonly meanSamplesPerSec: number;
  readonly workers: number;
  readonly lastSample: string | null;
  readonly lastCheckpoint: string | null;
  readonly generator: string | null;
  readonly runDir: string;
}

/** What config.json holds: the run config and its hash, plus how the run was started. */
interface StoredRun {
  readonly run: RunConfig;
  readonly sampleEvery?: number;
  readonly [other: string]: unknown;
}

function log(message: string): void {
  process.stderr.write(`[coordinator] ${message}\n`);
}

/** Runs one training job to the end; resolves with the summary also written to summary.json. */
export async function runCoordinator(options: CoordinatorOptions): Promise<RunSummary> {
  const started = Date.now();
  if (options.inProcess && (options.minWorkers ?? 1) > 1) throw new Error('--min-workers waits for workers, but --in-process uses none: drop one of them');
  const runDir = new RunDirectory(options.runDir ?? defaultRunDir(options.preset, options.seed ?? PRESETS[options.preset].seed));
  let config: RunConfig;
  /** With --resume: the run's config.json, read once. */
  let stored: StoredRun | undefined;
  /** With --resume: a --steps that sets a new length for the run (checked against its progress below). */
  let newSteps: number | undefined;
  if (options.resume) {
    if (!options.runDir) throw new Error('--resume needs --run-dir DIR: the run directory to continue');
    if (!runDir.holdsRun()) throw new Error(`--resume: ${runDir.display()} holds no run to resume (no config.json)`);
    stored = runDir.readJson('config.json') as StoredRun;
    config = stored.run;
    // The run's config (and its hash, which workers check) comes from config.json; a flag that
    // would change what a step computes is an error rather than silently ignored. Its length may
    // change: no step reads it.
    const given: [string, number | undefined, number][] = [
      ['--batch-size', options.batchSize, config.batchSize],
      ['--shards', options.shards, config.shards],
      ['--seed', options.seed, config.seed],
    ];
    const clashes = given
      .filter(([, value, kept]) => value !== undefined && value !== kept)
      .map(([flag, value, kept]) => `${flag} ${value} (the run has ${kept})`);
    if (clashes.length > 0) {
      throw new Error(
        `--resume continues ${runDir.display()} with the settings in its config.json; ${clashes.join(', ')} would change the run: leave the flag out, or start a new run in another --run-dir`,
      );
    }
    if (options.steps !== undefined && options.steps !== config.steps) {
      validateRunConfig({ ...config, steps: options.steps });
      newSteps = options.steps;
    }
  } else {
    config = makeRunConfig(options.preset, { steps: options.steps, batchSize: options.batchSize, shards: options.shards, seed: options.seed });
  }
  // On resume the run's own sample period holds unless --sample-every says otherwise.
  const sampleEvery = options.sampleEvery ?? stored?.sampleEvery ?? PRESETS[config.preset].sampleEvery;
  // Everything that can fail on bad input is checked before the run directory is created.
  // With workers, this process runs TensorFlow only for the probe, samples and evaluation: one
  // thread each, so its pools do not take cores from the workers (see tensorFlowThreads).
  if (!options.inProcess) Object.assign(process.env, tensorFlowThreads(1, 1, process.env));
  const selection = await selectBackend(options.backend);
  log(describeSelection(selection));
  const dataset = loadMnist({ dataDir: options.dataDir, split: 'train' });
  log(`MNIST: ${dataset.count} images from ${dataset.source} (fingerprint ${dataset.fingerprint.slice(0, 12)})`);
  checkDatasetFits(config.model, dataset); // here, not in every worker
  if (!options.inProcess) {
    await checkListenPolicy(options.host, options.token || undefined);
    readTlsFiles(options);
  }
  runDir.prepare(options.resume);

  const checkpoints = CheckpointStore.forRun(runDir.checkpointsDir, config);
  const metricsLog: StepMetrics[] = [];
  let state = new TrainingState(config);
  if (options.resume) {
    const found = checkpoints.loadLatest(log);
    if (found) {
      state = new TrainingState(config, found.data);
      log(`resumed from ${runDir.display(found.file)} at step ${state.nextStep}`);
    } else log('no usable checkpoint: starting from step 0');
    if (newSteps !== undefined) {
      if (newSteps <= state.nextStep) {
        throw new Error(`--steps ${newSteps}: ${runDir.display()} is already at step ${state.nextStep}; pass more steps to continue it, or leave --steps out`);
      }
      log(`--steps ${newSteps}: the run goes on to step ${newSteps} (it was set to ${config.steps})`);
      config = { ...config, steps: newSteps };
      state = new TrainingState(config, state.data());
      // Saved again under checkpointKey first: a checkpoint an earlier distgan keyed by the full
      // config hash would not load once config.json names the new length.
      if (found) checkpoints.save(state.data());
      runDir.writeJson('config.json', { ...stored, run: config, configHash: runConfigHash(config) });
    }
    runDir.truncateMetricsFrom(state.nextStep);
    metricsLog.push(...runDir.readMetrics());
  } else {
    runDir.writeJson('config.json', {
      run: config,
      configHash: runConfigHash(config),
      sampleEvery,
      backend: selection.backend,
      createdAt: new Date().toISOString(),
      host: hostname(),
    });
  }
  const configHash = runConfigHash(config);

  const evalNets = new GanNetworks(config.model);
  let evaluator: QualityEvaluator | null = null;
  if (options.evalEvery > 0) {
    const testSet = loadMnist({ dataDir: options.dataDir, split: 'test' });
    const { classifier, dir } = await loadOrTrainClassifier({ trainSet: dataset, testSet, log });
    log(`--eval-every ${options.evalEvery}: classifier from ${dir} (test accuracy ${(100 * classifier.testAccuracy).toFixed(2)}%)`);
    evaluator = new QualityEvaluator(classifier, testSet);
  }
  const quickEval = (step: number): QualityMetrics => {
    const n = options.evalSamples;
    const noise = fillNoise(config.model.noise, randomStream(config.seed, 'eval', step), 0, n);
    const images = computeToArray(() => evalNets.generate(noise, n));
    return evaluator!.evaluate(toUnitRange(images, config.model.pixelRange), n);
  };
  let executor: ShardExecutor;
  let remote: Remote | null = null;
  let computer: ShardComputer | null = null;
  let lastSample: string | null = null;
  let lastCheckpoint: string | null = null;
  let lastSampleStep: number | null = null;
  let generatorPath: string | null = null;
  let checkpointedStep = -1;
  const generatorDir = runDir.generatorDir;
  const checkpointAndExport = async () => {
    if (checkpointedStep === state.nextStep) return; // already saved at this step
    checkpointedStep = state.nextStep;
    lastCheckpoint = checkpoints.save(state.data());
    generatorPath = await exportGenerator(generatorDir, config, state.sampleWeights(), state.nextStep);
  };
  let progress: ProgressLine | null = null;
  const status = { step: state.nextStep, steps: config.steps, running: true, backend: selection.backend, runDir: runDir.root, preset: config.preset };

  const stopSignals = ['SIGINT', 'SIGTERM'] as const;
  let stopRequested = false;
  const onSignal = (signal: string) => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    if (remote && remote.pool.readyCount() === 0) {
      log(`${signal}: no worker is connected to finish the current step: stopping now`);
      remote.pool.abortPhase(`${signal} with no worker connected`);
      return;
    }
    log(`${signal}: finishing the current step, then saving a checkpoint and stopping (again to quit now)`);
  };
  for (const s of stopSignals) process.on(s, onSignal);

  try {
    if (options.inProcess) {
      computer = new ShardComputer(config, dataset);
      executor = new LocalExecutor(computer);
    } else {
      const view = { status: () => ({ ...status, lastSampleStep }), metrics: () => metricsLog, latestSample: () => lastSample };
      remote = await startRemote(options, config, configHash, dataset.fingerprint, view, (m) => {
        progress?.interrupt();
        log(m);
      });
      executor = remote.pool;
      const minWorkers = options.minWorkers ?? 1;
      if (minWorkers > 1) {
        log(`waiting for ${minWorkers} workers to join before the first step (--min-workers)`);
        await remote.pool.whenReady(minWorkers);
      }
    }

    const tutorialLines = config.preset === 'seed';
    progress = tutorialLines ? null : new ProgressLine(config.steps, state.nextStep);
    if (tutorialLines) process.stdout.write("i, G loss, D loss, max G(z) pixel, D(G(z))   (the tutorial's columns)\n");
    let stoppedEarly = false;
    let samples = 0;
    let sampleSeconds = 0;
    const rule = options.ignoreStopRule ? null : config.stopRule;
    const moreSteps = () => state.nextStep < config.steps && !stopRequested;
    const startStep = () => {
      const started = performance.now(); // before: in-process, trainStep computes its first phase before returning
      const done = trainStep(state, executor, dataset.count);
      // Awaited at the top of the loop; this keeps a failure during the last step's bookkeeping
      // from also being reported as an unhandled rejection of the step in flight.
      done.catch(() => undefined);
      return { started, done };
    };
    let running = moreSteps() ? startStep() : null;
    const cpuClock = new CpuClock();
    /** The phase a stop with no worker connected cut short, if one did. */
    let abortedPhase: 'D' | 'G' | null = null;
    while (running) {
      let result: StepResult;
      try {
        result = await running.done;
      } catch (err) {
        if (!(err instanceof PhaseAbortedError)) throw err;
        abortedPhase = err.phase;
        break;
      }
      const stepMs = performance.now() - running.started;
      const coordinatorCpuMs = cpuClock.lap();
      const wire: StepStats = remote
        ? remote.pool.takeStepStats()
        : { bytesIn: 0, bytesOut: 0, shardsByWorker: { 'in-process': config.shards }, workers: 0, shardComputeMs: stepMs, workerCpuMs: 0 };
      const checkpointDue = options.checkpointEvery > 0 && state.nextStep % options.checkpointEvery === 0;
      // The next step's D phase goes out before this step's bookkeeping (probe, samples, evaluation,
      // metrics), which then runs while the workers compute instead of between steps. Everything
      // below reads the state synchronously, and the next step changes it only once its first
      // phase's results are in, so the bookkeeping sees this step's weights either way. Not when
      // the stop rule could end the run here, or a checkpoint (which awaits) is due.
      running = !rule && !checkpointDue && moreSteps() ? startStep() : null;
      samples += config.batchSize;
      sampleSeconds += stepMs / 1000;
      let probe: { maxPixel: number; dFake: number } | undefined;
      const wantSample = sampleEvery > 0 && (result.step % sampleEvery === 0 || state.nextStep === config.steps);
      const wantEval = evaluator !== null && (result.step % options.evalEvery === 0 || state.nextStep === config.steps);
      if (tutorialLines || config.stopRule) {
        // The tutorial's probe watches training itself: G as trained, never its average.
        evalNets.load('G', state.version('G'), state.gWeights);
        evalNets.load('D', state.version('D'), state.dWeights);
        probe = probeSample(evalNets, config.seed, result.step, config.objective);
      }
      // Samples and evaluation draw from G's average when the run keeps one; else the probe's load of G serves.
      const sampleG = state.sampleWeights();
      if ((wantSample || wantEval) && !(probe && sampleG === state.gWeights)) evalNets.load('G', state.version('G'), sampleG);
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
        time: new Date().toISOString(),
        ...(probe ? { probeMaxPixel: probe.maxPixel, probeDFake: probe.dFake } : {}),
        ...(wantEval ? { eval: quickEval(result.step) } : {}),
      };
      runDir.appendMetrics(metrics);
      metricsLog.push(metrics);
      status.step = state.nextStep;
      if (wantSample) {
        lastSample = runDir.writeSample(result.step, renderSampleGrid(evalNets, config.seed));
        lastSampleStep = result.step;
      }
      if (tutorialLines && probe) {
        process.stdout.write(`${result.step} ${result.g.loss.toFixed(6)} ${result.d.loss.toFixed(6)} ${probe.maxPixel.toFixed(2)} ${probe.dFake.toFixed(6)}\n`);
      } else progress?.update(metrics);
      if (checkpointDue) await checkpointAndExport();
      if (rule && probe && probe.dFake > rule.dFakeMin && probe.dFake < rule.dFakeMax && result.step > rule.afterStep) {
        progress?.interrupt();
        log(`stop rule met at step ${result.step}: ${rule.dFakeMin} < D(G(z)) = ${probe.dFake.toFixed(4)} < ${rule.dFakeMax}`);
        stoppedEarly = true;
        break;
      }
      running ??= moreSteps() ? startStep() : null;
    }
    progress?.interrupt();
    // Always end with a checkpoint and the exported generator: `npm run sample` and --resume use them.
    // Not when a G phase was cut short: D has taken the step's Adam step, G has not, and a
    // checkpoint must hold a whole step (a D phase cut short has changed nothing yet).
    if (abortedPhase === 'G') {
      log(
        `step ${state.nextStep} was cut short in its G phase: the newest checkpoint${lastCheckpoint ? ` (${runDir.display(lastCheckpoint)})` : ''} is where --resume continues`,
      );
    } else await checkpointAndExport();
    if (stopRequested) log(`stopped at step ${state.nextStep}; continue with --resume --run-dir ${runDir.display()}`);
    status.running = false;
    const summary: RunSummary = {
      steps: state.nextStep,
      stoppedEarly,
      backend: selection.backend,
      ...state.hashes(),
      configHash,
      preset: config.preset,
      seed: config.seed,
      shards: config.shards,
      batchSize: config.batchSize,
      wallSeconds: (Date.now() - started) / 1000,
      meanSamplesPerSec: sampleSeconds > 0 ? samples / sampleSeconds : 0,
      workers: remote?.pool.workers().length ?? 0,
      lastSample: lastSample ? runDir.display(lastSample) : null,
      lastCheckpoint: lastCheckpoint ? runDir.display(lastCheckpoint) : null,
      generator: generatorPath ? runDir.display(generatorPath) : null,
      runDir: runDir.root,
    };
    runDir.writeJson('summary.json', summary);
    return summary;
  } finally {
    for (const s of stopSignals) process.off(s, onSignal);
    await remote?.close('training finished');
    computer?.dispose();
    evalNets.dispose();
    evaluator?.classifier.dispose();
  }
}
