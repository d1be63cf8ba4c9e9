import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { GanObjective } from '@distgan/losses';
import { configHash, modelVariant } from '@distgan/models';
import type { BackendName } from '@distgan/runtime';
import { makeRunConfig, PRESETS, runConfigHash, TrainingState, validateRunConfig, type PresetName, type RunConfig } from '@distgan/training';
import { CheckpointStore, defaultRunDir, RunDirectory, type StepMetrics } from '@distgan/run-store';

/** The run-defining flags a coordinator was started with. */
export interface RunRequest {
  readonly preset: PresetName;
  readonly steps?: number | undefined;
  readonly batchSize?: number | undefined;
  readonly shards?: number | undefined;
  readonly seed?: number | undefined;
  /** A model of `MODEL_VARIANTS` instead of the preset's. */
  readonly model?: string | undefined;
  readonly objective?: GanObjective | undefined;
  readonly runDir?: string | undefined;
  readonly sampleEvery?: number | undefined;
  readonly checkpointEvery?: number | undefined;
  readonly evalEvery?: number | undefined;
  readonly evalSamples?: number | undefined;
  readonly verify?: number | undefined;
  readonly resume: boolean;
  /** Resume when `runDir` holds a run, else start one there (one command line for every start). */
  readonly startOrResume?: boolean | undefined;
}

/**
 * How often a run writes its outputs, and what share of results it checks. They change no weight
 * (checking undoes only wrong results), so `--resume` may change them; a run keeps the ones it was
 * last started with (config.json) for every flag left out.
 */
export interface OutputSettings {
  /** The share of workers' results the coordinator computes again and compares (`--verify`). */
  readonly verify: number;
  /** A sample grid every N steps (0: none). */
  readonly sampleEvery: number;
  /** A checkpoint (and G's export) every N steps (0: only at the end). */
  readonly checkpointEvery: number;
  /** Score `evalSamples` samples every N steps (0: never). */
  readonly evalEvery: number;
  readonly evalSamples: number;
}

/**
 * Periodic checkpoints by default: a coordinator killed outright (SIGKILL, power, OOM) then loses
 * at most 1,000 steps, about a minute here; each costs about 80 ms (default model, fsynced).
 */
export const DEFAULT_CHECKPOINT_EVERY = 1000;
export const DEFAULT_EVAL_SAMPLES = 1000;
/**
 * 2% of results checked by default: a worker that returns wrong numbers all the time (a broken
 * core, a liar) is caught within about 50 of its results and undone, for about 2% more compute
 * in the coordinator; 0 turns it off, 1 checks everything (docs/faults-and-security.md).
 */
export const DEFAULT_VERIFY = 0.02;

/** What config.json holds: the run config and its hash, plus how the run was started. */
interface StoredRun {
  readonly run: RunConfig;
  readonly outputs?: Partial<OutputSettings>;
  readonly verifyKey?: string;
  /** Where a run directory written before `outputs` existed kept its sample period. */
  readonly sampleEvery?: number;
  readonly [other: string]: unknown;
}

/** Each output setting: the flag when given, else the run's stored one, else the default. */
function outputSettings(request: RunRequest, config: RunConfig, stored: StoredRun | undefined): OutputSettings {
  const kept: Partial<OutputSettings> = { sampleEvery: stored?.sampleEvery, ...stored?.outputs };
  return {
    sampleEvery: request.sampleEvery ?? kept.sampleEvery ?? PRESETS[config.preset].sampleEvery,
    checkpointEvery: request.checkpointEvery ?? kept.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY,
    evalEvery: request.evalEvery ?? kept.evalEvery ?? 0,
    evalSamples: request.evalSamples ?? kept.evalSamples ?? DEFAULT_EVAL_SAMPLES,
    verify: request.verify ?? kept.verify ?? DEFAULT_VERIFY,
  };
}

/** A run decided but not yet touched on disk: every check that can refuse has passed. */
export interface ResolvedRun {
  readonly runDir: RunDirectory;
  readonly config: RunConfig;
  readonly outputs: OutputSettings;
  /** The key that picks which results are checked (config.json's `verifyKey`; workers never see it). */
  readonly verifyKey: Buffer;
  /** Whether the run continues one in `runDir` (--resume, or --start-or-resume finding one). */
  readonly resumed: boolean;
  /** With --resume: the run's config.json. */
  readonly stored: StoredRun | undefined;
  /** With --resume --steps N: the run's new length, checked against its progress in `openRun`. */
  readonly newSteps: number | undefined;
}

/**
 * New or resumed: the run config from the flags, or from the run's own config.json, where a flag
 * that would change what a step computes is an error rather than silently ignored (the run's
 * length may change: no step reads it). Reads, never writes.
 */
export function resolveRun(request: RunRequest): ResolvedRun {
  const runDir = new RunDirectory(request.runDir ?? defaultRunDir(request.preset, request.seed ?? PRESETS[request.preset].seed));
  if (request.startOrResume) {
    if (request.resume) throw new Error('--resume and --start-or-resume: pass one (--start-or-resume resumes a run it finds)');
    if (!request.runDir) throw new Error('--start-or-resume needs --run-dir DIR: where the run is started, and found again after a restart');
  }
  if (!(request.resume || (request.startOrResume && runDir.holdsRun()))) {
    const model = request.model === undefined ? undefined : modelVariant(request.model);
    const { steps, batchSize, shards, seed, objective } = request;
    const config = makeRunConfig(request.preset, { steps, batchSize, shards, seed, model, objective });
    return {
      runDir,
      config,
      outputs: outputSettings(request, config, undefined),
      verifyKey: randomBytes(32),
      resumed: false,
      stored: undefined,
      newSteps: undefined,
    };
  }
  if (!request.runDir) throw new Error('--resume needs --run-dir DIR: the run directory to continue');
  if (!runDir.holdsRun()) throw new Error(`--resume: ${runDir.display()} holds no run to resume (no config.json)`);
  const stored = runDir.readJson('config.json') as StoredRun;
  const config = stored.run;
  const given: [string, number | undefined, number][] = [
    ['--batch-size', request.batchSize, config.batchSize],
    ['--shards', request.shards, config.shards],
    ['--seed', request.seed, config.seed],
  ];
  const clashes = given
    .filter(([, value, kept]) => value !== undefined && value !== kept)
    .map(([flag, value, kept]) => `${flag} ${value} (the run has ${kept})`);
  if (request.model !== undefined && configHash(modelVariant(request.model)) !== configHash(config.model)) clashes.push(`--model ${request.model}`);
  if (request.objective !== undefined && request.objective !== (config.objective ?? 'crossEntropy')) clashes.push(`--objective ${request.objective}`);
  if (clashes.length > 0) {
    throw new Error(
      `--resume continues ${runDir.display()} with the settings in its config.json; ${clashes.join(', ')} would change the run: leave the flag out, or start a new run in another --run-dir`,
    );
  }
  let newSteps: number | undefined;
  if (request.steps !== undefined && request.steps !== config.steps) {
    validateRunConfig({ ...config, steps: request.steps });
    newSteps = request.steps;
  }
  const verifyKey = stored.verifyKey ? Buffer.from(stored.verifyKey, 'hex') : randomBytes(32);
  return { runDir, config, outputs: outputSettings(request, config, stored), verifyKey, resumed: true, stored, newSteps };
}

/** A run open on disk: its config (with any new length), the state to train from, and the metrics so far. */
export interface OpenRun {
  readonly config: RunConfig;
  readonly state: TrainingState;
  readonly checkpoints: CheckpointStore;
  readonly metrics: StepMetrics[];
}

/**
 * Creates the run directory (or opens the resumed one), loads the newest good checkpoint, applies
 * a new length, and writes config.json; metrics.jsonl loses the lines after the checkpoint, which
 * the run recomputes with the same bits.
 */
export function openRun(resolved: ResolvedRun, backend: BackendName, log: (message: string) => void): OpenRun {
  const { runDir, stored, newSteps, resumed: resume } = resolved;
  let config = resolved.config;
  runDir.prepare(resume);
  const checkpoints = CheckpointStore.forRun(runDir.layout.checkpointsDir, config);
  if (!resume) {
    const created = { createdAt: new Date().toISOString(), host: hostname() };
    runDir.writeJson('config.json', {
      run: config,
      configHash: runConfigHash(config),
      outputs: resolved.outputs,
      verifyKey: resolved.verifyKey.toString('hex'),
      backend,
      ...created,
    });
    return { config, state: new TrainingState(config), checkpoints, metrics: [] };
  }
  const found = checkpoints.loadLatest(log);
  let state = found ? new TrainingState(config, found.data) : new TrainingState(config);
  if (found) log(`resumed from ${runDir.display(found.file)} at step ${state.nextStep}`);
  else log('no usable checkpoint: starting from step 0');
  if (newSteps !== undefined) {
    if (newSteps <= state.nextStep) {
      throw new Error(`--steps ${newSteps}: ${runDir.display()} is already at step ${state.nextStep}; pass more steps to continue it, or leave --steps out`);
    }
    log(`--steps ${newSteps}: the run goes on to step ${newSteps} (it was set to ${config.steps})`);
    config = { ...config, steps: newSteps };
    state = new TrainingState(config, state.data());
    // Saved again under checkpointKey first: a checkpoint an older distgan keyed by the full
    // config hash would not load once config.json names the new length.
    if (found) checkpoints.save(state.data());
  }
  // The length and the output settings as this start sets them, for the next --resume.
  const { sampleEvery: _older, ...rest } = stored ?? {};
  runDir.writeJson('config.json', {
    ...rest,
    run: config,
    configHash: runConfigHash(config),
    outputs: resolved.outputs,
    verifyKey: resolved.verifyKey.toString('hex'),
  });
  runDir.truncateMetricsFrom(state.nextStep);
  return { config, state, checkpoints, metrics: runDir.readMetrics() };
}
