import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultMessage } from '@distgan/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readMetrics, readSummary, runToEnd, startCoordinator, startWorker, testRuns, coordinatorUrl } from './test-support/processes.js';
import { TamperingRelay, type Tamper } from './test-support/tampering-relay.js';
import { chosenForVerification } from './verification.js';

// Verified training against a man in the middle: an honest worker whose results a relay alters
// on their way, next to an honest worker connected directly. The liar must be caught and its
// unchecked results undone, so that the run ends on the undisturbed weights.
const { runDir } = testRuns();
const ARGS = ['--preset', 'tiny', '--steps', '30', '--shards', '4', '--seed', '11', '--sample-every', '0', '--no-dashboard'];
let reference = '';
beforeAll(async () => {
  reference = (await runToEnd([...ARGS, '--in-process', '--run-dir', runDir()])).summary.weightsSha256;
});
const relays: TamperingRelay[] = [];
afterEach(async () => {
  for (const relay of relays.splice(0)) await relay.close();
});

const scaled: Tamper = (r) => ({ ...r, gradient: r.gradient.map((v) => v * 1.0001) });
const lossTripled: Tamper = (r) => ({ ...r, lossSum: r.lossSum * 3 });

/** The run's verification key, from its config.json (the test plays a liar that stole it, to choose what it alters). */
function runKey(dir: string): Buffer {
  return Buffer.from((JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { verifyKey: string }).verifyKey, 'hex');
}

/** Alters one result only: the first whose task the run checks, so that the test does not depend on chance. */
function oneChosen(dir: string, fraction: number, alter: Tamper): Tamper {
  let done = false;
  return (r: ResultMessage) => {
    if (done) return undefined;
    if (!chosenForVerification(runKey(dir), fraction, r)) return undefined;
    done = true;
    return alter(r);
  };
}

async function runWithLiar(fraction: number, tamper: (dir: string) => Tamper) {
  const dir = runDir();
  const c = startCoordinator([...ARGS, '--workers', '0', '--verify', String(fraction), '--run-dir', dir]);
  const url = await coordinatorUrl(c);
  const relay = new TamperingRelay(url, tamper(dir));
  relays.push(relay);
  startWorker(await relay.listen(), ['--name', 'relayed', '--delay-ms', '10']);
  startWorker(url, ['--name', 'honest', '--delay-ms', '10']);
  const { code } = await c.exited;
  return { c, dir, code, relay };
}

describe('--verify: wrong numbers are caught and undone', () => {
  const cases: [string, number, (dir: string) => Tamper][] = [
    ['every gradient x 1.0001, a quarter of results checked', 0.25, () => scaled],
    ['every gradient x 1.0001, every result checked', 1, () => scaled],
    ['one element of one result negated', 0.25, (dir) => oneChosen(dir, 0.25, (r) => ({ ...r, gradient: r.gradient.map((v, i) => (i === 7 ? -v : v)) }))],
    ['loss sums x 3', 0.25, () => lossTripled],
  ];
  for (const [name, fraction, tamper] of cases) {
    it(`${name}: the liar is set aside with the evidence, and the run ends on the undisturbed weights`, async () => {
      const { c, dir, code, relay } = await runWithLiar(fraction, tamper);
      expect(code).toBe(0);
      expect(relay.tampered).toBeGreaterThan(0);
      expect(c.stderr).toMatch(
        /worker w\d+ \(relayed@[^)]*\) set aside: returned a wrong result for \d+\/[DG]\/\d+ \(sha256 [0-9a-f]{16}, the coordinator's [0-9a-f]{16}\)/,
      );
      const caught = readMetrics(dir).flatMap((m) => (m.caught as { worker: string; workerSha256: string; coordinatorSha256: string }[] | undefined) ?? []);
      expect(caught.length).toBeGreaterThanOrEqual(1);
      expect(caught[0]!.worker).toMatch(/relayed@/);
      expect(caught[0]!.workerSha256).not.toBe(caught[0]!.coordinatorSha256);
      expect(readSummary(dir).weightsSha256).toBe(reference);
    });
  }

  it('undoes the unchecked results: the run returns to the step of the first one', async () => {
    // Three wrong results the run does not check go in first; the next one it checks convicts.
    const unchecked = (dir: string): Tamper => {
      let slipped = 0;
      return (r) => {
        const chosen = chosenForVerification(runKey(dir), 0.25, r);
        if (slipped < 3 && chosen) return undefined;
        if (!chosen) slipped++;
        return scaled(r);
      };
    };
    const { c, dir } = await runWithLiar(0.25, unchecked);
    expect(c.stderr).toMatch(/its unchecked results since step \d+ are undone: the run returns there/);
    expect(c.stderr).toMatch(/returned to step \d+ \(a state kept in memory\): computing again from there without the wrong results/);
    // metrics.jsonl holds each step once, in order, after the return.
    expect(readMetrics(dir).map((m) => m.step)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('checks nothing with --verify 0, and an honest pair of workers is never set aside', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '2', '--verify', '1', '--run-dir', dir]);
    expect((await c.exited).code).toBe(0);
    expect(c.stderr).not.toMatch(/set aside/);
    expect(readMetrics(dir).reduce((n, m) => n + ((m.verified as number) ?? 0), 0)).toBe(30 * 2 * 4);
    expect(readSummary(dir).weightsSha256).toBe(reference);
    const off = runDir();
    const quiet = await runToEnd([...ARGS, '--workers', '1', '--verify', '0', '--run-dir', off]);
    expect(readMetrics(off).some((m) => m.verified !== undefined)).toBe(false);
    expect(quiet.summary.weightsSha256).toBe(reference);
  });
});
