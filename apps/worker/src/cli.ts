#!/usr/bin/env node
import {
  describeSelection,
  logFatal,
  logLine,
  parseBackendChoice,
  parseLogFormat,
  relaxHeapGrowth,
  resolveToken,
  selectBackend,
  setLogFormat,
} from '@distgan/runtime';
import { buildCommand } from './command.js';
import { Worker } from './worker.js';

async function main(): Promise<void> {
  const command = buildCommand();
  command.parse();
  relaxHeapGrowth(); // frames turn over megabytes a phase; see @distgan/runtime
  const opts = command.opts();
  const name = String(opts.name);
  setLogFormat(parseLogFormat(String(opts.logFormat)), `worker ${name}`);
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
      sharedSnapshots: opts.sharedSnapshots as string | undefined,
      resultFiles: opts.resultFiles === true ? true : undefined,
      giveUpAfterMs: (opts.giveUpAfter as number) * 1000,
      log,
    });
    const outcome = await worker.run();
    if (outcome.kind === 'done') {
      log(`finished after ${worker.shardsDone} shard(s): ${outcome.reason}`);
      process.exit(0);
    }
    logFatal('distgan-worker', `${outcome.code}: ${outcome.message}`);
    process.exit(outcome.code === 'UNAUTHORIZED' ? 2 : 3);
  } catch (err) {
    logFatal('distgan-worker', (err as Error).message);
    process.exit(1);
  }
}

await main();
