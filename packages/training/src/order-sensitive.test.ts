import { loadMnist } from '@distgan/mnist';
import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRunConfig, planTasks, ShardComputer, trainStep, TrainingState, type PhasePlan, type ShardExecutor, type ShardResult } from './index.js';

/**
 * The training step end to end where the order and precision of the shard sum show in the final
 * weights. Real gradients sum to the same float64 bits in almost any order (a few float32 values
 * rarely need more than 53 bits), so a sum taken in arrival order would pass every test that
 * trains a real model. Here the four shards of each phase are the real gradients r0..r3 made
 * into r0 * 2^30, r1, -r0 * 2^30 and r3 (exact: powers of two): shards 0 and 2 cancel exactly,
 * and what survives of r1 and r3 depends on when each met the large terms. In float64 in shard
 * order r1 keeps all but its bits below 2^-22 |r0|, which float32 keeps only in part; in float32
 * r1 is lost; in another order the rounding falls elsewhere. Any of these moves the weights.
 */

const dataset = loadMnist();
const LARGE = 2 ** 30;
const STEPS = 3;

beforeAll(async () => {
  await selectBackend();
});

/** A phase's four real results made into the shards described above. */
function cancelling(results: readonly ShardResult[]): ShardResult[] {
  if (results.length !== 4) throw new Error(`the construction needs 4 shards, not ${results.length}`);
  const r0 = results[0]!.gradient;
  return results.map((result) => {
    if (result.shard === 0) return { ...result, gradient: r0.map((g) => g * LARGE) };
    if (result.shard === 2) return { ...result, gradient: r0.map((g) => -g * LARGE) };
    return result;
  });
}

/** The tiny model's shards, made cancelling, accepted in the order `arrival` gives for each phase. */
class ScaledShardsExecutor implements ShardExecutor {
  private phases = 0;
  constructor(
    private readonly computer: ShardComputer,
    private readonly arrival: (shards: number, phaseIndex: number) => number[],
  ) {}

  async runPhase(plan: PhasePlan): Promise<void> {
    for (const name of ['D', 'G'] as const) this.computer.networks.load(name, plan.state.version(name), plan.state.weights(name));
    const results = cancelling(plan.tasks.map((task) => this.computer.compute(task)));
    for (const shard of this.arrival(results.length, this.phases++)) expect(plan.accept(results[shard]!)).toBe(true);
  }

  takeStepStats() {
    return { bytesIn: 0, bytesOut: 0, shardsByWorker: {}, workers: 0, shardComputeMs: 0, workerCpuMs: 0 };
  }
}

const config = makeRunConfig('tiny', { steps: STEPS, shards: 4 });

/** `trainStep` with the cancelling shards arriving in `arrival` order: the final weightsSha256. */
async function trained(arrival: (shards: number, phaseIndex: number) => number[]): Promise<string> {
  const state = new TrainingState(config);
  const computer = new ShardComputer(config, dataset, { log: () => undefined });
  try {
    const executor = new ScaledShardsExecutor(computer, arrival);
    for (let s = 0; s < STEPS; s++) await trainStep(state, executor, dataset.count);
    return state.hashes().weightsSha256;
  } finally {
    computer.dispose();
  }
}

/**
 * The same training written out without `trainStep` or its accumulator: each phase's cancelling
 * gradients summed in `order`, in float64 or float32, then Adam. Shard order in float64 is the
 * definition the weights must follow.
 */
function reference(order: 'shards' | 'reversed', precision: 'float64' | 'float32'): string {
  const state = new TrainingState(config);
  const computer = new ShardComputer(config, dataset, { log: () => undefined });
  try {
    for (let step = 0; step < STEPS; step++) {
      for (const phase of ['D', 'G'] as const) {
        for (const name of ['D', 'G'] as const) computer.networks.load(name, state.version(name), state.weights(name));
        const tasks = planTasks(state, step, phase, dataset.count);
        const gradients = cancelling(tasks.map((task) => computer.compute(task))).map((r) => r.gradient);
        if (order === 'reversed') gradients.reverse();
        const total = precision === 'float64' ? new Float64Array(gradients[0]!.length) : new Float32Array(gradients[0]!.length);
        for (const g of gradients) for (let i = 0; i < g.length; i++) total[i] = 0 + total[i]! + g[i]!;
        state.apply(phase, total, config.batchSize);
      }
      state.nextStep = step + 1;
    }
    return state.hashes().weightsSha256;
  } finally {
    computer.dispose();
  }
}

/** A fixed pseudo-random permutation of `n` per phase (a small LCG: the test needs variety, not quality). */
function shuffled(n: number, phaseIndex: number): number[] {
  const order = [...Array(n).keys()];
  let x = 12345 + 7919 * phaseIndex;
  for (let i = n - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

describe('shard sums where order and precision show in the weights (cancelling tiny-model shards, trainStep end to end)', () => {
  it('the reference itself tells orders and precisions apart (the comparisons below can fail)', () => {
    const exact = reference('shards', 'float64');
    expect(reference('reversed', 'float64')).not.toBe(exact);
    expect(reference('shards', 'float32')).not.toBe(exact);
  });

  it('trains to the float64 shard-order weights whatever order the shards arrive in', async () => {
    const exact = reference('shards', 'float64');
    const orders: [string, (n: number, phase: number) => number[]][] = [
      ['in shard order', (n) => [...Array(n).keys()]],
      ['reversed', (n) => [...Array(n).keys()].reverse()],
      ['shard 1 first', (n) => [1, 0, ...[...Array(n).keys()].slice(2)]],
      ['shuffled per phase', shuffled],
    ];
    for (const [name, arrival] of orders) expect(await trained(arrival), name).toBe(exact);
  });
});
