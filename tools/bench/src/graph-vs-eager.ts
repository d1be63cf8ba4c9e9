/**
 * graphVsEager: one task's time as a TensorFlow graph over the same task as eager tfjs-node ops
 * (the seed model, a whole batch in one shard, D and G tasks), measured alternately in one
 * process so that a slow spell of a shared machine hits both. tfjs-node only.
 */
import { loadMnist } from '@distgan/mnist';
import { makeRunConfig, planTasks, ShardComputer, TrainingState, type ShardTask } from '@distgan/training';

export interface GraphVsEager {
  /** Graph ms over eager ms for a D task plus a G task. */
  readonly ratio: number;
  readonly graphDMs: number;
  readonly graphGMs: number;
  readonly eagerDMs: number;
  readonly eagerGMs: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeTask(computer: ShardComputer, task: ShardTask): number {
  const started = performance.now();
  computer.computeWith(task, undefined, (result) => result.gradient.length);
  return performance.now() - started;
}

export function graphVsEager(batchSize: number, repeats: number): GraphVsEager {
  const data = loadMnist();
  const config = makeRunConfig('seed', { batchSize, shards: 1 });
  const state = new TrainingState(config);
  const computers = [false, true].map((shardGraphs) => {
    const computer = new ShardComputer(config, data, { shardGraphs, log: () => {} });
    for (const name of ['D', 'G'] as const) computer.networks.load(name, state.version(name), state.weights(name));
    return computer;
  });
  const [eager, graph] = computers as [ShardComputer, ShardComputer];
  const d = planTasks(state, 0, 'D', data.count)[0]!;
  const g = planTasks(state, 0, 'G', data.count)[0]!;
  // Load, check and warm up each graph.
  for (const computer of computers) for (let i = 0; i < 3; i++) for (const task of [d, g]) timeTask(computer, task);
  if (graph.graphs?.trustedKinds().length !== 2) throw new Error('graphVsEager: the graph path is not in use (see the lines above)');
  const times = { graphD: [] as number[], graphG: [] as number[], eagerD: [] as number[], eagerG: [] as number[] };
  for (let i = 0; i < repeats; i++) {
    times.eagerD.push(timeTask(eager, d));
    times.graphD.push(timeTask(graph, d));
    times.eagerG.push(timeTask(eager, g));
    times.graphG.push(timeTask(graph, g));
  }
  for (const computer of computers) computer.dispose();
  const [graphDMs, graphGMs, eagerDMs, eagerGMs] = [times.graphD, times.graphG, times.eagerD, times.eagerG].map(median) as [number, number, number, number];
  return { ratio: (graphDMs + graphGMs) / (eagerDMs + eagerGMs), graphDMs, graphGMs, eagerDMs, eagerGMs };
}
