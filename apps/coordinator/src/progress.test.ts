import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressLine } from './progress.js';
import type { StepMetrics } from '@distgan/run-store';

function stream(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  return { out: Object.assign(s, { isTTY }) as unknown as NodeJS.WriteStream, text: () => text };
}

const metrics = (step: number): StepMetrics => ({
  step,
  dLoss: 1.2345,
  gLoss: 0.9,
  dReal: 0.61,
  dFake: 0.42,
  stepMs: 100,
  samplesPerSec: 640,
  workers: 2,
  bytesIn: 0,
  bytesOut: 0,
  shardsByWorker: {},
  shardComputeMs: 0,
  coordinatorCpuMs: 0,
  workerCpuMs: 0,
  time: '',
});

describe('ProgressLine', () => {
  it('shows step/total, losses, D(x), D(G(z)), samples/s, workers and ETA', () => {
    const line = new ProgressLine(10, 0, stream(true).out).format(metrics(4));
    expect(line).toMatch(/^step 5\/10 {2}D 1\.2345 {2}G 0\.9000 {2}D\(x\) 0\.610 {2}D\(G\(z\)\) 0\.420 {2}640 samples\/s {2}workers 2 {2}ETA \d+s$/);
  });

  it('rewrites one line in place on a TTY', () => {
    const s = stream(true);
    const p = new ProgressLine(10, 0, s.out);
    for (let i = 0; i < 5; i++) p.update(metrics(i));
    expect(s.text().split('\r\x1b[2K').length - 1).toBe(5);
    expect(s.text()).not.toContain('\n');
  });

  it('prints plain lines at most every period, and always the last step, when not a TTY', () => {
    const s = stream(false);
    const p = new ProgressLine(10, 0, s.out, 60_000);
    for (let i = 0; i < 10; i++) p.update(metrics(i));
    const lines = s.text().trim().split('\n');
    expect(lines).toHaveLength(2); // the first step and the last
    expect(lines[1]).toMatch(/^step 10\/10/);
    expect(s.text()).not.toContain('\r');
  });
});
