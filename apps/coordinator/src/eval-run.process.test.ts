import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killAll, readMetrics, runToEnd, start, tempDir } from './test-support/processes.js';

const EVAL_CLI = join(dirname(createRequire(import.meta.url).resolve('@distgan/eval')), 'cli.js');
const tmp = tempDir();
afterEach(killAll);
afterAll(() => tmp.remove());

// On a fresh machine the first user of the evaluation classifier trains it (about 3.5 minutes on
// 2 cores), and nothing orders this file after the eval package's own tests.
const FIRST_CLASSIFIER_MS = 600_000;

describe('sample quality of a run', () => {
  it(
    'npm run eval -- --run scores a barely trained run far below real data and writes eval.json',
    async () => {
      const dir = `${tmp.path}/run`;
      // The default preset's class-conditional G: eval feeds it a balanced class code.
      await runToEnd(['--preset', 'default', '--steps', '2', '--batch-size', '16', '--in-process', '--run-dir', dir]);
      const p = start(EVAL_CLI, ['--run', dir, '--samples', '500']);
      const { code } = await p.exited;
      expect(code, p.stderr).toBe(0);
      const m = JSON.parse(p.stdout.trim()) as Record<string, number | string>;
      expect(m).toMatchObject({ source: 'run', step: 2, samples: 500 });
      expect(m.classifierScore as number).toBeLessThan(3);
      expect(m.frechetDistance as number).toBeGreaterThan(20);
      expect(JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8'))).toMatchObject({ classifierScore: m.classifierScore });
    },
    FIRST_CLASSIFIER_MS,
  );

  it(
    '--eval-every puts quick quality metrics into metrics.jsonl',
    async () => {
      const dir = `${tmp.path}/quick`;
      await runToEnd(['--preset', 'tiny', '--steps', '3', '--in-process', '--eval-every', '2', '--eval-samples', '200', '--run-dir', dir]);
      const withEval = readMetrics(dir).filter((m) => m.eval);
      expect(withEval.map((m) => m.step)).toEqual([0, 2]); // every 2 steps and the last
      const scores = withEval.map((m) => m.eval as { samples: number; classifierScore: number; frechetDistance: number });
      for (const score of scores) {
        expect(score.samples).toBe(200);
        // A classifier score lies between 1 (one class) and 10 (all ten evenly); an untrained G is far from MNIST.
        expect(score.classifierScore).toBeGreaterThanOrEqual(1);
        expect(score.classifierScore).toBeLessThanOrEqual(10);
        expect(score.frechetDistance).toBeGreaterThan(20);
      }
      // Two steps of training move G: the readings differ.
      expect(scores[1]!.frechetDistance).not.toBe(scores[0]!.frechetDistance);
    },
    FIRST_CLASSIFIER_MS,
  );
});
