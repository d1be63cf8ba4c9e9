import type { Evidence } from '@distgan/run-store';
import type { VerifiedStepStats } from './verification.js';

/** What the pool counted since it started (for /metrics). */
export interface PoolTotals {
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Tasks taken back from a worker that left, overran its deadline or failed the task. */
  readonly tasksReassigned: number;
}

/**
 * What the worker pool counts: bytes both ways, tasks reassigned and the workers' time, per step
 * (`takeStep`, for metrics.jsonl) and since the pool started (`totals`, for /metrics).
 */
export class PoolCounters {
  private readonly running = { bytesIn: 0, bytesOut: 0, tasksReassigned: 0 };
  private bytesIn = 0;
  private bytesOut = 0;
  private shardsByWorker: Record<string, number> = {};
  private shardComputeMs = 0;
  /** The workers' CPU time as their results report it. */
  private workerCpuMs = 0;
  private caughtThisStep: Evidence[] = [];

  received(bytes: number): void {
    this.bytesIn += bytes;
    this.running.bytesIn += bytes;
  }

  sent(bytes: number): void {
    this.bytesOut += bytes;
    this.running.bytesOut += bytes;
  }

  /** Tasks taken back from a worker (it left, overran its deadline or failed them) and queued again. */
  reassigned(tasks: number): void {
    this.running.tasksReassigned += tasks;
  }

  workerCpu(ms: number): void {
    this.workerCpuMs += ms;
  }

  /** A result of `worker`'s, which took it `computeMs`, was accepted. */
  accepted(worker: string, computeMs: number): void {
    this.shardsByWorker[worker] = (this.shardsByWorker[worker] ?? 0) + 1;
    this.shardComputeMs += computeMs;
  }

  caught(evidence: Evidence): void {
    this.caughtThisStep.push(evidence);
  }

  totals(): PoolTotals {
    return { ...this.running };
  }

  /** The step's counts (with `workers` connected, and `verified` results checked when verifying), and a new step begun. */
  takeStep(workers: number, verified: number | undefined): VerifiedStepStats {
    const stats: VerifiedStepStats = {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      shardsByWorker: this.shardsByWorker,
      workers,
      shardComputeMs: this.shardComputeMs,
      workerCpuMs: this.workerCpuMs,
      ...(verified !== undefined ? { verified } : {}),
      ...(this.caughtThisStep.length > 0 ? { caught: this.caughtThisStep } : {}),
    };
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.shardsByWorker = {};
    this.shardComputeMs = 0;
    this.workerCpuMs = 0;
    this.caughtThisStep = [];
    return stats;
  }
}
