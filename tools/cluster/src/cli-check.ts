import { coordinatorCommand } from '@distgan/coordinator';
import { workerCommand } from '@distgan/worker';
import type { Command } from 'commander';

/**
 * Parses a container's arguments (`coordinator ...` or `worker ...`, the image's entry point
 * `deploy/distgan.sh`) with the project's own command-line parser; throws what the command would
 * print for an unknown flag, a bad value or a missing required one.
 */
export function checkImageArguments(args: readonly string[]): void {
  const [command, ...flags] = args;
  let cli: Command;
  if (command === 'coordinator') cli = coordinatorCommand();
  else if (command === 'worker') cli = workerCommand();
  else throw new Error(`the image runs "coordinator" or "worker", not ${JSON.stringify(command)}`);
  let message = '';
  cli.exitOverride().configureOutput({ writeErr: (text) => (message += text), writeOut: () => undefined });
  try {
    cli.parse([...flags], { from: 'user' });
  } catch (err) {
    throw new Error(`${command} ${flags.join(' ')}: ${message.trim() || (err as Error).message}`);
  }
}

/** `${NAME:-default}` and `${NAME}` in a Compose file's strings, as `docker stack deploy` substitutes them from `env`. */
export function substituteVariables(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => env[name] || fallback || '');
}
