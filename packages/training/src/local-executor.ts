import type { ExecutorStepStats, PhasePlan, ShardExecutor } from './executor.js';
import type { ShardComputer } from './shard.js';

/** Runs every shard in this process, in shard order: the single-process trainer. */
export class LocalExecutor implements ShardExecutor {
  private shards = 0;
  private computeMs = 0;

  constructor(private readonly computer: ShardComputer) {}

  async runPhase(plan: PhasePlan): Promise<void> {
    const networks = this.computer.networks;
    for (const name of ['D', 'G'] as const) {
      const version = plan.state.version(name);
      if (networks.version(name) !== version) networks.load(name, version, plan.state.weights(name));
    }
    for (const task of plan.tasks) {
      const started = performance.now();
      const result = this.computer.compute(task);
      this.computeMs += performance.now() - started;
      this.shards++;
      plan.accept(result);
    }
  }

  /** Shards computed here and the time they took; nothing crossed a wire. */
  takeStepStats(): ExecutorStepStats {
    const stats = { bytesIn: 0, bytesOut: 0, shardsByWorker: { 'in-process': this.shards }, workers: 0, shardComputeMs: this.computeMs, workerCpuMs: 0 };
    this.shards = 0;
    this.computeMs = 0;
    return stats;
  }
}
