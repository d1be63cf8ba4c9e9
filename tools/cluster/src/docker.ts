import { execFileSync, spawnSync } from 'node:child_process';

/** Runs `docker args...` and returns its stdout (trimmed); throws with its stderr when it fails. */
export function docker(args: readonly string[], input?: string): string {
  return execFileSync('docker', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 }).trim();
}

/** Like `docker`, but returns the exit status and output instead of throwing. */
export function runDocker(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('docker', args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Null when a Docker daemon answers here, else why not (no client, no daemon, no permission). */
export function dockerAvailable(): string | null {
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 15_000 });
  if (r.error) return `no docker client (${r.error.message})`;
  if (r.status !== 0) return `no Docker daemon answers (${(r.stderr || '').trim().split('\n').pop()})`;
  return null;
}
