import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, dockerAvailable, runDocker } from './docker.js';

// The Swarm stack for real: the image built from this checkout, deployed with the tiny preset;
// workers scaled 2 -> 4 -> 1 and the coordinator's container killed once during the run (Swarm
// restarts it, and the same command line continues the run from its volume). The final weights
// must equal an --in-process run of the same config in the same image. Needs a Docker daemon (CI
// starts one as root); without one it says why and skips, unless DISTGAN_REQUIRE_DOCKER=1.
const root = fileURLToPath(new URL('../../..', import.meta.url));
const STACK = 'distgan-test';
const SECRET = `distgan-test-token-${process.pid}`;
const STEPS = 300;
const unavailable = dockerAvailable();
if (unavailable) {
  if (process.env.DISTGAN_REQUIRE_DOCKER === '1') throw new Error(`DISTGAN_REQUIRE_DOCKER=1 but ${unavailable}`);
  console.warn(`\n!!! Swarm test skipped: ${unavailable}. CI runs it (as root, with dockerd). !!!\n`);
}

const created = { swarm: false, secret: false, stack: false };
let image = process.env.DISTGAN_IMAGE ?? 'distgan:test';

/**
 * Polls `check` every 500 ms until it returns a value (not undefined), or throws after
 * `timeoutMs` with the steps done and the services' last log lines, to show where the stack was.
 */
async function until<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const logs = (service: string) => {
        const r = runDocker(['service', 'logs', '--raw', '--tail', '15', `${STACK}_${service}`]);
        return `${service}:\n${r.stdout}${r.stderr}`;
      };
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${stepsDone()} steps done)\n${logs('coordinator')}\n${logs('worker')}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A file in the stack's `runs` volume, read on the host (null until it exists). */
function volumeFile(path: string): string | null {
  const mount = runDocker(['volume', 'inspect', '-f', '{{.Mountpoint}}', `${STACK}_runs`]);
  if (mount.status !== 0) return null;
  const file = join(mount.stdout.trim(), path);
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}

function stepsDone(): number {
  return (volumeFile('run/metrics.jsonl') ?? '').split('\n').filter((l) => l.trim() !== '').length;
}

function coordinatorContainer(): string | undefined {
  return docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${STACK}_coordinator`]).split('\n')[0] || undefined;
}

/** Removes the test's stack and its `runs` volume. */
function removeStack(): void {
  runDocker(['stack', 'rm', STACK]);
  // The stack's containers and network go asynchronously; the volume can only go after them.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${STACK}`]) !== '') spawnSync('sleep', ['1']);
  while (Date.now() < deadline && runDocker(['network', 'inspect', `${STACK}_distgan`]).status === 0) spawnSync('sleep', ['1']);
  runDocker(['volume', 'rm', '-f', `${STACK}_runs`]);
}

function cleanUp(): void {
  if (created.stack) removeStack();
  if (created.secret) runDocker(['secret', 'rm', SECRET]);
  if (created.swarm) {
    runDocker(['swarm', 'leave', '--force']);
    runDocker(['network', 'rm', 'docker_gwbridge']); // made by swarm init, left by swarm leave
  }
}

describe.skipIf(unavailable !== null)('Docker Swarm stack (deploy/swarm/stack.yml)', () => {
  beforeAll(() => {
    if (!process.env.DISTGAN_IMAGE) {
      // Cached layers make this quick after the first build.
      const build = spawnSync(join(root, 'deploy/build-image.sh'), [image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (build.status !== 0) throw new Error(`deploy/build-image.sh failed:\n${(build.stdout + build.stderr).slice(-4000)}`);
    }
    image = process.env.DISTGAN_IMAGE ?? image;
  }, 20 * 60_000);
  afterAll(cleanUp, 120_000);

  it(
    'trains through worker scaling and a killed coordinator to the weights of an in-process run',
    async () => {
      const config = ['--preset', 'tiny', '--steps', String(STEPS), '--shards', '4', '--sample-every', '0'];
      const reference = docker(['run', '--rm', image, 'coordinator', ...config, '--in-process', '--no-dashboard', '--run-dir', '/tmp/reference']);
      const referenceHash = /weightsSha256 ([0-9a-f]{64})/.exec(reference)?.[1];
      expect(referenceHash).toBeDefined();

      if (docker(['info', '--format', '{{.Swarm.LocalNodeState}}']) !== 'active') {
        docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
        created.swarm = true;
      }
      const secretValue = randomBytes(24).toString('hex');
      docker(['secret', 'create', SECRET, '-'], secretValue);
      created.secret = true;
      const env = {
        ...process.env,
        DISTGAN_IMAGE: image,
        DISTGAN_PRESET: 'tiny',
        DISTGAN_STEPS: String(STEPS),
        DISTGAN_SHARDS: '4',
        DISTGAN_CHECKPOINT_EVERY: '20',
        DISTGAN_WORKERS: '2',
        DISTGAN_TOKEN_SECRET: SECRET,
      };
      // A run of this test that was killed leaves its stack and volume: a finished run in the
      // volume would pass for this one's.
      if (runDocker(['volume', 'inspect', `${STACK}_runs`]).status === 0 || runDocker(['stack', 'ls']).stdout.includes(STACK)) removeStack();
      created.stack = true;
      const deploy = spawnSync('docker', ['stack', 'deploy', '-c', join(root, 'deploy/swarm/stack.yml'), STACK], { encoding: 'utf8', env });
      expect(deploy.status, deploy.stderr).toBe(0);

      await until('step 30', 180_000, () => (stepsDone() >= 30 ? true : undefined));
      docker(['service', 'scale', '--detach', `${STACK}_worker=4`]);
      await until('step 80', 120_000, () => (stepsDone() >= 80 ? true : undefined));
      const first = await until('the coordinator container', 30_000, coordinatorContainer);
      docker(['kill', first]);
      // Swarm starts a new coordinator container, which continues from the newest checkpoint.
      await until('a new coordinator container', 90_000, () => {
        const now = coordinatorContainer();
        return now && now !== first ? now : undefined;
      });
      await until('step 120 after the restart', 120_000, () => (stepsDone() >= 120 ? true : undefined));
      docker(['service', 'scale', '--detach', `${STACK}_worker=1`]);
      const summary = await until('summary.json', 300_000, () => volumeFile('run/summary.json') ?? undefined);
      const result = JSON.parse(summary) as { weightsSha256: string; steps: number; backend: string };
      expect(result.steps).toBe(STEPS);
      expect(result.weightsSha256).toBe(referenceHash);
      // The coordinator's log lines (JSON, on stderr) from both containers.
      const logs = runDocker(['service', 'logs', '--raw', `${STACK}_coordinator`]);
      expect(logs.stderr).toMatch(/"message":"resumed from .*step-\d+\.ckpt at step \d+"/);
      expect(logs.stdout + logs.stderr).not.toContain(secretValue);
      // Both coordinator containers ran: the killed one and its replacement.
      expect(docker(['service', 'ps', '-q', `${STACK}_coordinator`]).split('\n').length).toBeGreaterThanOrEqual(2);
    },
    15 * 60_000,
  );
});
