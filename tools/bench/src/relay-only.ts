#!/usr/bin/env node
/**
 * One run of the relay ceiling (`relay-ceiling.ts`): the real server, worker pool and local worker
 * processes, driven through training's phases by a coordinator that keeps nothing. Each phase it
 * hands out the tasks a training run would (the next step's D tasks ahead during a G phase) and a
 * new version of the network the last phase trained, so every worker receives, checks, uploads
 * and repacks the snapshots and sends its gradients as in training, and the pool validates every
 * result. Left out is the coordinator's arithmetic: no fold of the results, no Adam (the weights
 * stay as initialised, only their versions move), no probe, no metrics file.
 *
 * Prints, as its last line, `{"stepMs":[...]}`: the step times after `--warmup` steps.
 */
import { parseArgs } from 'node:util';
import { planListen, startRemote, type Remote } from '@distgan/coordinator';
import { loadMnist } from '@distgan/mnist';
import { integerArg, relaxHeapGrowth } from '@distgan/runtime';
import { makeRunConfig, PHASES, planTasks, planUpcoming, runConfigHash, TrainingState, type NetworkName, type ShardResult } from '@distgan/training';

/** Training state whose networks get a new version per phase while their weights stay put. */
class RelayState extends TrainingState {
  private readonly versions: Record<NetworkName, number> = { D: 0, G: 0 };

  override version(name: NetworkName): number {
    return this.versions[name];
  }

  override apply(name: NetworkName): void {
    this.versions[name] += 1;
  }
}

function parseRelayArgs() {
  const { values } = parseArgs({
    options: {
      'batch-size': { type: 'string' },
      shards: { type: 'string', default: '2' },
      workers: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string', default: '0' },
      backend: { type: 'string', default: 'auto' },
    },
  });
  return {
    batchSize: integerArg(1)(values['batch-size'] ?? ''),
    shards: integerArg(1)(values.shards ?? ''),
    workers: integerArg(1)(values.workers ?? ''),
    steps: integerArg(1)(values.steps ?? ''),
    warmup: integerArg(0)(values.warmup ?? ''),
    backend: values.backend ?? 'auto',
  };
}

async function main(): Promise<void> {
  const { batchSize, shards, workers, steps, warmup, backend } = parseRelayArgs();
  const log = (m: string) => process.stderr.write(`[relay-only] ${m}\n`);
  relaxHeapGrowth(); // as the coordinator does
  const dataset = loadMnist();
  const config = makeRunConfig('seed', { batchSize, shards, steps: warmup + steps });
  const view = {
    status: () => ({ step: 0, steps: config.steps, running: true, backend, preset: config.preset, runDir: '', lastSampleStep: null }),
    metrics: () => [],
    latestSample: () => null,
  };
  const remote = await startRemote(
    { host: '127.0.0.1', port: 0, workers, minWorkers: workers, backend, taskTimeoutMs: 120_000, heartbeatMs: 5_000, dashboard: false },
    await planListen('127.0.0.1', undefined, {}),
    config,
    runConfigHash(config),
    dataset.fingerprint,
    view,
    log,
  );
  let stepMs: number[];
  try {
    await remote.pool.whenReady(workers);
    stepMs = await relaySteps(remote.pool, new RelayState(config), dataset.count, warmup);
  } finally {
    await remote.close('relay run finished');
  }
  process.stdout.write(`${JSON.stringify({ stepMs })}\n`, () => process.exit(0));
}

/** Every step of the run through the pool, each phase's results taken and dropped; the step times after `warmup`. */
async function relaySteps(pool: Remote['pool'], state: RelayState, datasetSize: number, warmup: number): Promise<number[]> {
  const stepMs: number[] = [];
  for (let step = 0; step < state.config.steps; step++) {
    const started = performance.now();
    for (const phase of PHASES) {
      const tasks = planTasks(state, step, phase, datasetSize);
      const answered = new Set<number>();
      await pool.runPhase({
        step,
        phase,
        tasks,
        upcoming: planUpcoming(state, step, phase, datasetSize),
        state,
        accept: (result: ShardResult) => {
          if (result.step !== step || result.phase !== phase || answered.has(result.shard)) return false;
          answered.add(result.shard);
          return true;
        },
        isComplete: () => answered.size === tasks.length,
      });
      state.apply(phase);
    }
    pool.takeStepStats(); // as the trainer does each step, so the pool's counters stay small
    if (step >= warmup) stepMs.push(performance.now() - started);
  }
  return stepMs;
}

try {
  await main();
} catch (err) {
  process.stderr.write(`relay-only: ${(err as Error).message}\n`);
  process.exit(1);
}
