/**
 * The peer the bench compares distgan with: the tutorial's own step in TensorFlow graph mode
 * (tf.compat.v1, `peer/tutorial_step.py`), run by a Python that has TensorFlow. Which Python:
 * `DISTGAN_PEER_PYTHON`, else `python3` when it can import tensorflow; without one the peer is
 * skipped and the bench says why.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseChildAnswer } from './child-answer.js';

const SCRIPT = fileURLToPath(new URL('../peer/tutorial_step.py', import.meta.url));

export interface PeerStep {
  readonly batchSize: number;
  readonly msPerStep: number;
  /** TensorFlow's version, as the peer reports it. */
  readonly tensorflow: string;
}

/** The peer's last line, `{"batchSize":b,"msPerStep":t,"tensorflow":"v"}`; anything else is an error that quotes it. */
export function parsePeerStep(line: string): PeerStep {
  return parseChildAnswer('peer', '{"batchSize":b,"msPerStep":t,"tensorflow":"v"}', line, (value) => {
    const v = value as Partial<PeerStep> | null;
    return v && Number.isInteger(v.batchSize) && typeof v.msPerStep === 'number' && v.msPerStep > 0 && typeof v.tensorflow === 'string'
      ? { batchSize: Number(v.batchSize), msPerStep: v.msPerStep, tensorflow: v.tensorflow }
      : undefined;
  });
}

/** The Python to run the peer with, or the reason there is none. */
export function findPeerPython(env: NodeJS.ProcessEnv = process.env): { python: string } | { skipped: string } {
  const candidates = env.DISTGAN_PEER_PYTHON ? [env.DISTGAN_PEER_PYTHON] : ['python3'];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import tensorflow'], { encoding: 'utf8', env: { ...env, TF_CPP_MIN_LOG_LEVEL: '3' } });
    if (probe.status === 0) return { python };
    const why = probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`);
    if (env.DISTGAN_PEER_PYTHON) return { skipped: `DISTGAN_PEER_PYTHON=${python} cannot import tensorflow (${why})` };
  }
  return { skipped: 'no Python with TensorFlow (set DISTGAN_PEER_PYTHON to one; docs/performance.md says how to make one)' };
}

/** Median ms per step of the tutorial's graph-mode step at `batchSize`, after `warmup` steps. */
export function peerStep(python: string, batchSize: number, steps: number, warmup: number): PeerStep {
  const r = spawnSync(python, [SCRIPT, String(batchSize), String(steps), String(warmup)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`peer (${python} ${SCRIPT}) failed:\n${(r.stderr ?? '').slice(-2000)}`);
  const lines = r.stdout.trim().split('\n');
  return parsePeerStep(lines[lines.length - 1] ?? '');
}
