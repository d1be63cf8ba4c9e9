import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * `parseArgs` for the workspace's tools, with what a command-line user expects: `--help` (or
 * `-h`) prints `usage` and exits 0; an unknown or malformed option prints the reason and the usage
 * and exits 2, instead of a stack trace.
 */
export function toolArgs<T extends ParseArgsConfig>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  const args = config.args ?? process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage);
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}
