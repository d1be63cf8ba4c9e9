import { loadOrTrainClassifier, QualityEvaluator } from '@distgan/eval';
import { loadMnist, type MnistDataset } from '@distgan/mnist';
import { describeSelection, logLine, selectBackend, type BackendChoice, type BackendName } from '@distgan/runtime';
import { checkDatasetFits, LocalExecutor, runConfigHash, ShardComputer, type RunConfig, type ShardExecutor, type TrainingState } from '@distgan/training';
import { startRemote, type Remote, type RemoteOptions, type RunView } from './remote.js';
import { RunOutputs } from './run-outputs.js';
import { openRun, resolveRun, type OpenRun, type ResolvedRun, type RunRequest } from './run-resolution.js';
import { planListen, type ListenPlan } from './server.js';
import { trainToEnd, type LoopEnd } from './training-loop.js';
import type { VerifiedStepStats } from './verification.js';
import { VerifiedTraining } from './verified-training.js';
import type { RunDirectory } from '@distgan/run-store';

/** Every coordinator option: the run's (`RunRequest`), the distributed side's (`RemoteOptions`), and how to train it. */
export interface CoordinatorOptions extends RunRequest, RemoteOptions {
  readonly backend: BackendChoice;
  /** Compute every shard in this process: no server, no workers. */
  readonly inProcess: boolean;
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

function log(message: string): void {
  logLine('coordinator', message);
}

/** What a run starts from: every check that can refuse it done, nothing written yet. */
interface Prepared {
  readonly resolved: ResolvedRun;
  readonly backend: BackendName;
  readonly dataset: MnistDataset;
  /** Where the server listens (null in process). */
  readonly listen: ListenPlan | null;
}

/** Runs one training job to the end; resolves with the summary also written to summary.json. */
export async function runCoordinator(options: CoordinatorOptions): Promise<RunSummary> {
  const started = Date.now();
  const prepared = await prepare(options);
  const { resolved, dataset } = prepared;
  const opened = openRun(resolved, prepared.backend, log);
  const { config, state, checkpoints } = opened;
  const { runDir } = resolved;
  const outputs = await runOutputs(prepared, opened, options.dataDir);
  const status = { steps: config.steps, running: true, backend: prepared.backend, runDir: runDir.root, preset: config.preset };
  const verified = verifiedTraining(prepared, config);
  let remote: Remote | null = null;
  let computer: ShardComputer | null = null;
  const stop = handleStopSignals(() => remote, log);
  try {
    let executor: ShardExecutor<VerifiedStepStats>;
    const { listen } = prepared;
    if (listen) {
      remote = await startRemoteSide(options, { ...prepared, listen }, config, verified, runView(status, state, outputs), outputs);
      executor = remote.pool;
    } else {
      computer = new ShardComputer(config, dataset, { log });
      executor = new LocalExecutor(computer);
    }
    const pool = remote?.pool;
    const end = await trainToEnd(state, executor, outputs, {
      config,
      datasetSize: dataset.count,
      checkpointEvery: resolved.outputs.checkpointEvery,
      ignoreStopRule: options.ignoreStopRule,
      stopRequested: stop.requested,
      log,
      ...(verified && pool
        ? { history: verified.history, rewind: async (toStep: number) => verified.rewind(toStep, state, { outputs, checkpoints, runDir, pool }) }
        : {}),
    }).catch(async (err: unknown) => {
      // A run that cannot go on still leaves its last good state: the phase that failed was not applied.
      outputs.interruptProgress();
      await checkpointAtFailure(outputs, state, runDir);
      throw err;
    });
    await finish(state, outputs, end, stop.requested(), runDir);
    status.running = false;
    const wallSeconds = (Date.now() - started) / 1000;
    const summary = summarise(state, outputs, runDir, {
      stoppedEarly: end.stoppedEarly,
      backend: prepared.backend,
      wallSeconds,
      workers: pool?.workers().length ?? 0,
    });
    runDir.writeJson('summary.json', summary);
    return summary;
  } finally {
    stop.release();
    await remote?.close('training finished');
    computer?.dispose();
    verified?.dispose();
    outputs.dispose();
  }
}

/** The run's outputs (metrics, samples, evaluation, checkpoints) as the resolved flags ask. */
async function runOutputs({ resolved, dataset }: Prepared, opened: OpenRun, dataDir: string | undefined): Promise<RunOutputs> {
  const evaluator = await loadEvaluator(resolved.outputs.evalEvery, dataDir, dataset);
  const write = (text: string) => process.stdout.write(text);
  return new RunOutputs(resolved.runDir, opened.config, opened.checkpoints, { ...resolved.outputs, evaluator, write }, opened.metrics);
}

/** `--verify`'s checker and history; results are checked only where workers compute them, so none in process. */
function verifiedTraining({ resolved, listen, dataset, backend }: Prepared, config: RunConfig): VerifiedTraining | null {
  const { verify } = resolved.outputs;
  if (!listen || verify <= 0) return null;
  return new VerifiedTraining({ fraction: verify, key: resolved.verifyKey, config, dataset, backend, log });
}

/** What the API and dashboard show; the step is the next one after the last recorded, as the metrics show it. */
function runView(status: Omit<ReturnType<RunView['status']>, 'step' | 'lastSampleStep'>, state: TrainingState, outputs: RunOutputs): RunView {
  return {
    status: () => ({ ...status, step: (outputs.metrics.at(-1)?.step ?? state.nextStep - 1) + 1, lastSampleStep: outputs.lastSampleStep }),
    metrics: () => outputs.metrics,
    latestSample: () => outputs.lastSample,
  };
}

/**
 * Everything that can refuse the start, checked before the run directory is created: the flags,
 * the run (new or resumed), the backend, the MNIST files, the listen policy and the TLS files.
 */
async function prepare(options: CoordinatorOptions): Promise<Prepared> {
  if (options.inProcess && (options.minWorkers ?? 1) > 1) throw new Error('--min-workers waits for workers, but --in-process uses none: drop one of them');
  const resolved = resolveRun(options);
  // With workers, this process runs TensorFlow only for the probe, samples and evaluation: one
  // thread each, so its pools do not take cores from the workers (local workers get their share).
  const selection = await selectBackend(options.backend, options.inProcess ? {} : { tensorFlowThreads: { intraOp: 1, interOp: 1 } });
  log(describeSelection(selection));
  const dataset = loadMnist({ dataDir: options.dataDir, split: 'train' });
  log(`MNIST: ${dataset.count} images from ${dataset.source} (fingerprint ${dataset.fingerprint.slice(0, 12)})`);
  checkDatasetFits(resolved.config.model, dataset); // here, not in every worker
  const listen = options.inProcess ? null : await planListen(options.host, options.token || undefined, options);
  return { resolved, backend: selection.backend, dataset, listen };
}

/** The server, the worker pool and the local workers; resolves once `--min-workers` have joined. */
async function startRemoteSide(
  options: CoordinatorOptions,
  prepared: Prepared & { readonly listen: ListenPlan },
  config: RunConfig,
  verified: VerifiedTraining | null,
  view: RunView,
  outputs: RunOutputs,
): Promise<Remote> {
  const remote = await startRemote(
    { ...options, checker: verified?.checker },
    prepared.listen,
    config,
    runConfigHash(config),
    prepared.dataset.fingerprint,
    view,
    (m: string) => {
      outputs.interruptProgress();
      log(m);
    },
  );
  await waitForMinWorkers(remote, options.minWorkers ?? 1);
  return remote;
}

/**
 * Always ends with a checkpoint and the exported generator: `npm run sample` and --resume use
 * them. A stop during a G phase leaves the step half done (D's Adam step taken, G's not): the
 * checkpoint holds that, and --resume runs the step's G phase.
 */
async function finish(state: TrainingState, outputs: RunOutputs, end: LoopEnd, stopped: boolean, runDir: RunDirectory): Promise<void> {
  outputs.interruptProgress();
  await outputs.checkpoint(state);
  if (end.abortedPhase === 'G') log(`step ${state.nextStep} stopped after its D phase: the checkpoint holds that, and --resume runs its G phase`);
  if (stopped) log(`stopped at step ${state.nextStep}; continue with --resume --run-dir ${runDir.display()}`);
}

/** Writes the state a failed run holds (whole steps, or one step's D phase) and says so; a failure to write is logged, not thrown over the run's own error. */
async function checkpointAtFailure(outputs: RunOutputs, state: TrainingState, runDir: RunDirectory): Promise<void> {
  try {
    await outputs.checkpoint(state);
    const where = state.dPhase ? `step ${state.nextStep} after its D phase` : `step ${state.nextStep}`;
    log(`checkpoint of ${where} written: once the cause below is fixed, continue with --resume --run-dir ${runDir.display()}`);
  } catch (err) {
    log(`no checkpoint could be written at this stop: ${(err as Error).message}`);
  }
}

/** The evaluation classifier when `--eval-every` asks for one (trained once, then cached). */
async function loadEvaluator(evalEvery: number, dataDir: string | undefined, trainSet: MnistDataset): Promise<QualityEvaluator | null> {
  if (evalEvery <= 0) return null;
  const testSet = loadMnist({ dataDir, split: 'test' });
  const { classifier, dir } = await loadOrTrainClassifier({ trainSet, testSet, log });
  log(`--eval-every ${evalEvery}: classifier from ${dir} (test accuracy ${(100 * classifier.testAccuracy).toFixed(2)}%)`);
  return new QualityEvaluator(classifier, testSet);
}

async function waitForMinWorkers(remote: Remote, minWorkers: number): Promise<void> {
  if (minWorkers <= 1) return;
  log(`waiting for ${minWorkers} workers to join before the first step (--min-workers)`);
  await remote.pool.whenReady(minWorkers);
}

/**
 * SIGINT and SIGTERM: the first finishes the step in flight, then the run checkpoints and stops;
 * with no worker connected to finish it, the phase is cut short at once. A second signal quits.
 */
function handleStopSignals(remote: () => Remote | null, log: (message: string) => void): { requested: () => boolean; release: () => void } {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  let requested = false;
  const onSignal = (signal: string) => {
    if (requested) process.exit(130);
    requested = true;
    const pool = remote()?.pool;
    if (pool && pool.readyCount() === 0) {
      log(`${signal}: no worker is connected to finish the current step: stopping now`);
      pool.abortPhase(`${signal} with no worker connected`);
      return;
    }
    log(`${signal}: finishing the current step, then saving a checkpoint and stopping (again to quit now)`);
  };
  for (const s of signals) process.on(s, onSignal);
  const release = () => {
    for (const s of signals) process.off(s, onSignal);
  };
  return { requested: () => requested, release };
}

function summarise(
  state: TrainingState,
  outputs: RunOutputs,
  runDir: RunDirectory,
  run: { stoppedEarly: boolean; backend: string; wallSeconds: number; workers: number },
): RunSummary {
  const { config } = state;
  const shown = (path: string | null) => (path ? runDir.display(path) : null);
  return {
    steps: state.nextStep,
    stoppedEarly: run.stoppedEarly,
    backend: run.backend,
    ...state.hashes(),
    configHash: runConfigHash(config),
    preset: config.preset,
    seed: config.seed,
    shards: config.shards,
    batchSize: config.batchSize,
    wallSeconds: run.wallSeconds,
    meanSamplesPerSec: outputs.meanSamplesPerSec,
    workers: run.workers,
    lastSample: shown(outputs.lastSample),
    lastCheckpoint: shown(outputs.lastCheckpoint),
    generator: shown(outputs.generatorPath),
    runDir: runDir.root,
  };
}
