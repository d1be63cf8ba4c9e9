#!/usr/bin/env node
import { logFatal, parseLogFormat, relaxHeapGrowth, setLogFormat } from '@distgan/runtime';
import { buildCommand, toOptions } from './command.js';
import { runCoordinator } from './run-coordinator.js';
import { RunDirectory } from '@distgan/run-store';

async function main(): Promise<void> {
  const command = buildCommand();
  command.parse();
  relaxHeapGrowth(); // frames turn over megabytes a phase; see @distgan/runtime
  setLogFormat(parseLogFormat(String(command.opts().logFormat)), 'coordinator');
  try {
    const summary = await runCoordinator(toOptions(command.opts()));
    // Printed after workers and server are shut down, so the run directory is the last line.
    process.stdout.write(`weightsSha256 ${summary.weightsSha256}\n`);
    process.stdout.write(`run directory: ${new RunDirectory(summary.runDir).display()}\n`);
    process.exit(0);
  } catch (err) {
    logFatal('distgan-coordinator', (err as Error).message);
    process.exit(1);
  }
}

await main();
