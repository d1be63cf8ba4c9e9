import { Counter, Gauge, Registry } from 'prom-client';
import type { PoolTotals } from './pool-counters.js';
import type { WorkerStatus } from './pool-options.js';
import type { StepMetrics } from '@distgan/run-store';

/** What the exposition reads at each scrape: the run's status and metrics, and the pool's totals. */
export interface PrometheusSource {
  readonly step: () => number;
  readonly lastMetrics: () => StepMetrics | undefined;
  readonly workers: () => readonly WorkerStatus[];
  readonly totals: () => PoolTotals;
}

/**
 * The coordinator's Prometheus metrics (`GET /metrics`, text format 0.0.4, prom-client): each value
 * read from the run at scrape time, so nothing on the training path updates them. Its own
 * registry, not prom-client's global one, so two coordinators in one process stay apart.
 */
export function prometheusRegistry(source: PrometheusSource): Registry {
  const registers = [new Registry()];
  const registry = registers[0]!;
  const gauge = (name: string, help: string, read: () => number | undefined) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        // A counter set to the pool's running total: reset, then raised to it.
        this.reset();
        this.inc(read());
      },
    });
  gauge('distgan_step', 'steps completed', source.step);
  gauge('distgan_d_loss', "D's batch-mean loss at the last step", () => source.lastMetrics()?.dLoss);
  gauge('distgan_g_loss', "G's batch-mean loss at the last step", () => source.lastMetrics()?.gLoss);
  gauge('distgan_d_real', "D's mean score of real images at the last step (D(x))", () => source.lastMetrics()?.dReal);
  gauge('distgan_d_fake', "D's mean score of fakes at the last step (D(G(z)))", () => source.lastMetrics()?.dFake);
  gauge('distgan_samples_per_second', 'training samples per second at the last step', () => source.lastMetrics()?.samplesPerSec);
  gauge('distgan_step_seconds', 'wall time of the last step', () => {
    const ms = source.lastMetrics()?.stepMs;
    return ms === undefined ? undefined : ms / 1000;
  });
  gauge(
    'distgan_workers_connected',
    'workers that finished the handshake',
    () => source.workers().filter((w) => w.state === 'ready' || w.state === 'set aside').length,
  );
  gauge(
    'distgan_workers_set_aside',
    'workers set aside (overran deadlines or failed tasks in a row)',
    () => source.workers().filter((w) => w.state === 'set aside').length,
  );
  counter(
    'distgan_tasks_reassigned_total',
    'tasks taken back from a worker (it left, overran its deadline or failed the task) and queued again',
    () => source.totals().tasksReassigned,
  );
  counter('distgan_received_bytes_total', 'bytes received from workers', () => source.totals().bytesIn);
  counter('distgan_sent_bytes_total', 'bytes sent to workers', () => source.totals().bytesOut);
  return registry;
}
