// The page.evaluate callbacks below run in the browser, so they see the DOM.
/// <reference lib="dom" />
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findChromium } from './test-support/find-chromium.js';
import { killAll, startCoordinator, tempDir } from './test-support/processes.js';

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
/** What the page's Chart.js global offers the assertions below (they run in the browser). */
interface ChartGlobal {
  getChart(id: string):
    | {
        data: { labels: unknown[]; datasets: { data: number[]; yAxisID?: string }[] };
        options: { scales: Record<string, { min?: number; max?: number; position?: string }> };
      }
    | undefined;
}

const tmp = tempDir();
let browser: Browser;

beforeAll(async () => {
  const found = await findChromium();
  process.stderr.write(`dashboard test: Chromium from ${found.source}: ${found.path}\n`);
  browser = await chromium.launch({
    executablePath: found.path,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterEach(killAll);
afterAll(async () => {
  await browser?.close();
  tmp.remove();
});

/** One line of the run's metrics.jsonl, as far as the charts draw it. */
interface MetricsLine {
  step: number;
  dLoss: number;
  gLoss: number;
  dReal: number;
  dFake: number;
  stepMs: number;
  coordinatorCpuMs: number;
  workerCpuMs: number;
}

/**
 * What the page drew, after the run ended, is the run's own record: every charted point is the
 * metrics.jsonl line of its step, in step order, and the sample grid shown is, pixel for pixel,
 * the PNG saved for the step it names.
 */
async function expectPageShowsRun(page: Page, runDir: string): Promise<void> {
  const lines = readFileSync(`${runDir}/metrics.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as MetricsLine);
  const byStep = new Map(lines.map((m) => [m.step, m]));
  const drawn = await page.evaluate(() => {
    const chart = (id: string) => (globalThis as unknown as { Chart: ChartGlobal }).Chart.getChart(id)!.data;
    return { losses: chart('losses'), dprobs: chart('dprobs'), speed: chart('speed') };
  });
  const steps = drawn.losses.labels as number[];
  expect(steps.length).toBeGreaterThan(6);
  expect(steps.every((step, i) => i === 0 || step > steps[i - 1]!)).toBe(true);
  const expected = (pick: (m: MetricsLine) => number) => steps.map((step) => pick(byStep.get(step)!));
  expect(drawn.losses.datasets.map((d) => d.data)).toEqual([expected((m) => m.dLoss), expected((m) => m.gLoss)]);
  expect(drawn.dprobs.datasets.map((d) => d.data)).toEqual([expected((m) => m.dReal), expected((m) => m.dFake)]);
  expect(drawn.speed.datasets.map((d) => d.data)).toEqual([expected((m) => m.stepMs), expected((m) => m.coordinatorCpuMs + m.workerCpuMs)]);

  const sampleStep = Number(await page.getAttribute('#sample', 'data-step'));
  const saved = readFileSync(`${runDir}/samples/step-${String(sampleStep).padStart(6, '0')}.png`).toString('base64');
  const samePixels = await page.evaluate(async (png) => {
    const pixels = (img: HTMLImageElement) => {
      const canvas = document.createElement('canvas');
      [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      return ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    };
    const file = new Image();
    file.src = `data:image/png;base64,${png}`;
    await file.decode();
    const [shown, fromFile] = [pixels(document.getElementById('sample') as HTMLImageElement), pixels(file)];
    return shown.length > 0 && shown.length === fromFile.length && shown.every((v, i) => v === fromFile[i]);
  }, saved);
  expect(samePixels).toBe(true);
}

describe('dashboard in a real browser (headless Chromium)', () => {
  it('shows curves, the latest sample grid and workers, updating live during a run; saves a screenshot', async () => {
    const c = startCoordinator([
      '--preset',
      'tiny',
      '--steps',
      '60',
      '--sample-every',
      '3',
      '--workers',
      '1',
      '--token',
      'dash-token',
      '--run-dir',
      `${tmp.path}/run`,
      '--worker-arg',
      '--delay-ms',
      '--worker-arg',
      '40',
    ]);
    const url = (await c.waitFor(/dashboard at (http\S+)/))[1]!;
    expect(url).toContain('?token=dash-token'); // the printed URL works as is
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(url);
      const points = () =>
        page.evaluate(
          () =>
            (globalThis as unknown as { Chart: { getChart(id: string): { data: { labels: unknown[] } } | undefined } }).Chart.getChart('losses')?.data.labels
              .length ?? 0,
        );
      await page.waitForFunction(() => ((globalThis as unknown as { Chart: ChartGlobal }).Chart.getChart('losses')?.data.labels.length ?? 0) >= 3, undefined, {
        timeout: 30_000,
      });
      const firstPoints = await points();
      await page.waitForFunction(() => Number(document.getElementById('sample')!.dataset.step) >= 0, undefined, { timeout: 30_000 });
      const firstSample = Number(await page.getAttribute('#sample', 'data-step'));
      // Live: more points and a newer sample grid arrive without a reload.
      await page.waitForFunction(
        (n) => ((globalThis as unknown as { Chart: ChartGlobal }).Chart.getChart('losses')?.data.labels.length ?? 0) > n + 3,
        firstPoints,
        { timeout: 30_000 },
      );
      await page.waitForFunction((s) => Number(document.getElementById('sample')!.dataset.step) > s, firstSample, { timeout: 30_000 });
      await page.waitForFunction(() => (document.getElementById('sample') as HTMLImageElement).naturalWidth > 0, undefined, { timeout: 10_000 });
      // The workers table is the API's view of the connected worker (read while the run goes on:
      // at its end the worker leaves and the table empties).
      const row = await page.$$eval('#workers tr', (rows) => rows.map((r) => Array.from(r.querySelectorAll('td'), (td) => td.textContent)));
      const api = (await (await fetch(new URL('api/status?token=dash-token', url))).json()) as {
        workers: { id: string; backend: string; shardsDone: number }[];
      };
      expect(row).toHaveLength(1);
      expect(row[0]!.slice(0, 3)).toEqual(['w1', expect.any(String), api.workers[0]!.backend]);
      expect(['wasm', 'cpu', 'node']).toContain(row[0]![2]);
      expect(Number(row[0]![3])).toBeGreaterThan(0); // shards done
      // Step time and CPU time per step, one point per step, both positive (the worker reports its CPU time).
      const speed = await page.evaluate(() => (globalThis as unknown as { Chart: ChartGlobal }).Chart.getChart('speed')!.data.datasets.map((d) => d.data));
      expect(speed).toHaveLength(2);
      expect(speed[0]!.length).toBeGreaterThan(3);
      expect(speed.every((series) => series.length === speed[0]!.length && series.every((v) => Number.isFinite(v) && v > 0))).toBe(true);
      // The quality chart draws the classifier score (0-10) and the Frechet distance (hundreds early on) on axes of their own.
      const quality = await page.evaluate(() => {
        const chart = (globalThis as unknown as { Chart: ChartGlobal }).Chart.getChart('quality')!;
        return { axes: chart.data.datasets.map((d) => d.yAxisID), score: chart.options.scales.score!, distance: chart.options.scales.distance! };
      });
      expect(quality.axes).toEqual(['score', 'distance']);
      expect([quality.score.min, quality.score.max, quality.distance.position]).toEqual([0, 10, 'right']);
      expect(await page.textContent('#progress')).toMatch(/step \d+ \/ 60/);
      expect(await page.textContent('#error')).toBe('');
      await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
      expect(existsSync(`${ARTIFACTS}dashboard.png`)).toBe(true);
      expect((await c.exited).code).toBe(0);
      await expectPageShowsRun(page, `${tmp.path}/run`);
    } finally {
      await page.close();
    }
  });

  it('--no-dashboard turns the page off but keeps the JSON API', async () => {
    const c = startCoordinator(['--preset', 'tiny', '--steps', '200', '--workers', '0', '--no-dashboard', '--run-dir', `${tmp.path}/nodash`]);
    const url = (await c.waitFor(/status at (http:\/\/\S+)api\/status/))[1]!;
    expect(c.stdout).not.toMatch(/dashboard at/);
    expect((await fetch(url)).status).toBe(404);
    const status = (await (await fetch(`${url}api/status`)).json()) as { step: number; steps: number; workers: unknown[]; backend: string; running: boolean };
    expect(status).toMatchObject({ step: 0, steps: 200, workers: [], running: true });
    expect(typeof status.backend).toBe('string');
  });
});
