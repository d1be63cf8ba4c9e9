import type { ShardComputer } from './shard.js';
import type { PhasePlan, ShardExecutor } from './step.js';

/** Runs every shard in this process, in shard order: the single-process trainer. */
export class LocalExecutor implements ShardExecutor {
  constructor(private readonly computer: ShardComputer) {}

  async runPhase(plan: PhasePlan): Promise<void> {
    const networks = this.computer.networks;
    for (const name of ['D', 'G'] as const) {
      const version = plan.state.version(name);
      if (networks.version(name) !== version) networks.load(name, version, plan.state.weights(name));
    }
    for (const task of plan.tasks) plan.accept(this.computer.compute(task));
  }
}
