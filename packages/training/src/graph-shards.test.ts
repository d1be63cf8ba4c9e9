import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '@distgan/mnist';
import { nativeBackendRequired, selectBackend } from '@distgan/runtime';
import { compileShardGraph, type ShardGraph } from '@distgan/shard-graph';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LocalExecutor,
  makeRunConfig,
  planTasks,
  ShardComputer,
  trainStep,
  TrainingState,
  type RunConfig,
  type ShardComputerOptions,
  type ShardGraphCompiler,
  type ShardResult,
} from './index.js';

// The graph path exists on tfjs-node only. Where tfjs-node is not set up these tests say so and
// skip, unless DISTGAN_BACKEND=node asks for it (as CI does after setting it up): then they fail.
const dataset = loadMnist();
let nodeMissing: string | null = null;
beforeAll(async () => {
  try {
    await selectBackend('node');
  } catch (err) {
    if (nativeBackendRequired()) throw err;
    nodeMissing = (err as Error).message;
    console.warn(`graph-shards tests skipped: ${nodeMissing} (npm run native-backend sets tfjs-node up)`);
  }
});

const bits = (r: ShardResult) => [
  Buffer.from(r.gradient.buffer, r.gradient.byteOffset, r.gradient.byteLength).toString('base64'),
  r.lossSum,
  r.dRealSum,
  r.dFakeSum,
];

function computerPair(config: RunConfig, graphOptions: ShardComputerOptions = {}) {
  const state = new TrainingState(config);
  const make = (options: ShardComputerOptions) => {
    const computer = new ShardComputer(config, dataset, options);
    for (const name of ['D', 'G'] as const) computer.networks.load(name, state.version(name), state.weights(name));
    return computer;
  };
  const lines: string[] = [];
  return { state, lines, eager: make({ shardGraphs: false }), graph: make({ shardGraphs: true, log: (line) => lines.push(line), ...graphOptions }) };
}

describe('shard graphs on tfjs-node', () => {
  const configs: [string, RunConfig][] = [
    ['seed', makeRunConfig('seed', { batchSize: 64 })],
    ['default (conditional, leakyRelu)', makeRunConfig('default', { batchSize: 64, shards: 4 })],
    ['tiny, label 0.9', { ...makeRunConfig('tiny'), realLabel: 0.9 }],
  ];
  for (const [name, config] of configs) {
    it(`gives the eager ops' bits for every task kind: ${name}`, ({ skip }) => {
      if (nodeMissing) skip(nodeMissing);
      const { state, lines, eager, graph } = computerPair(config);
      for (const phase of ['D', 'G'] as const) {
        for (const task of planTasks(state, 2, phase, dataset.count).slice(0, 2)) {
          const want = bits(eager.compute(task));
          expect(bits(graph.compute(task)), `${phase} shard ${task.shard}, first (checked) call`).toEqual(want);
          expect(bits(graph.compute(task)), `${phase} shard ${task.shard}, graph alone`).toEqual(want);
        }
      }
      const [task] = planTasks(state, 3, 'D', dataset.count);
      const want = bits(eager.compute(task!, eager.computeRealShare(task!)));
      for (let call = 0; call < 2; call++) expect(bits(graph.compute(task!, graph.computeRealShare(task!)))).toEqual(want);
      expect(bits(graph.compute(task!))).toEqual(want); // both terms in one pass: the same bits as the split
      expect(graph.graphs?.trustedKinds().sort()).toEqual(['discriminator', 'discriminatorFake', 'discriminatorReal', 'generator']);
      expect(lines).toEqual([expect.stringMatching(/^shard graphs on/)]);
      eager.dispose();
      graph.dispose();
    });
  }

  it('leaks no tensor per task', ({ skip }) => {
    if (nodeMissing) skip(nodeMissing);
    const { state, eager, graph } = computerPair(makeRunConfig('tiny'));
    const tasks = [...planTasks(state, 0, 'D', dataset.count), ...planTasks(state, 0, 'G', dataset.count)];
    for (const task of tasks) graph.compute(task); // loads and checks each graph
    const before = tf.memory().numTensors;
    for (const task of tasks) graph.compute(task);
    graph.computeRealShare(tasks[0]!).gradient.dispose();
    expect(tf.memory().numTensors).toBe(before);
    eager.dispose();
    graph.dispose();
  });

  it('sets a graph that computes other bits aside for the eager ops, saying so once', ({ skip }) => {
    if (nodeMissing) skip(nodeMissing);
    // One op swapped: D's hidden tanh computed as a sigmoid.
    const broken: ShardGraphCompiler = (model, kind, options): ShardGraph => {
      const graph = compileShardGraph(model, kind, options);
      const tanh = graph.nodes.findIndex((n) => n.op === 'Tanh');
      return { ...graph, nodes: graph.nodes.map((n, i) => (i === tanh ? { ...n, op: 'Sigmoid' } : n)) };
    };
    const { state, lines, eager, graph } = computerPair(makeRunConfig('tiny'), { compileGraph: broken });
    for (const task of [...planTasks(state, 0, 'D', dataset.count), ...planTasks(state, 0, 'G', dataset.count)]) {
      expect(bits(graph.compute(task))).toEqual(bits(eager.compute(task)));
    }
    expect(graph.graphs?.trustedKinds()).toEqual([]);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(
        /^shard graphs: the discriminator graph is not used, its gradient differs from the eager ops' \(value \d+: .+ against .+\); its tasks run as eager ops$/,
      ),
      expect.stringMatching(/^shard graphs: the generator graph is not used, its gradient differs/),
    ]);
    eager.dispose();
    graph.dispose();
  });

  it('runs a kind whose graph TensorFlow refuses as eager ops, saying why', ({ skip }) => {
    if (nodeMissing) skip(nodeMissing);
    const unknownOp: ShardGraphCompiler = (model, kind, options) => {
      const graph = compileShardGraph(model, kind, options);
      return { ...graph, nodes: graph.nodes.map((n) => (n.op === 'Softplus' ? { ...n, op: 'NoSuchOp' } : n)) };
    };
    const { state, lines, eager, graph } = computerPair(makeRunConfig('tiny'), { compileGraph: unknownOp });
    const [task] = planTasks(state, 0, 'G', dataset.count);
    expect(bits(graph.compute(task!))).toEqual(bits(eager.compute(task!)));
    expect(lines[1]).toMatch(/^shard graphs: the generator graph could not be loaded \(.*NoSuchOp.*\); its tasks run as eager ops$/);
    eager.dispose();
    graph.dispose();
  });

  it('says once that a model it does not compile runs as eager ops', ({ skip }) => {
    if (nodeMissing) skip(nodeMissing);
    const lines: string[] = [];
    const computer = new ShardComputer(makeRunConfig('tiny', { objective: 'leastSquares' }), dataset, { log: (line) => lines.push(line) });
    expect(lines).toEqual(['shard graphs off: the leastSquares objective is not compiled (only crossEntropy); tasks run as eager tfjs-node ops']);
    computer.dispose();
  });

  for (const preset of ['seed', 'default'] as const) {
    it(`trains the ${preset} preset to the eager path's weights`, async ({ skip }) => {
      if (nodeMissing) skip(nodeMissing);
      const config = makeRunConfig(preset, { steps: 4 });
      const hashes = [];
      for (const shardGraphs of [false, true]) {
        const state = new TrainingState(config);
        const computer = new ShardComputer(config, dataset, { shardGraphs, log: () => {} });
        for (let step = 0; step < config.steps; step++) await trainStep(state, new LocalExecutor(computer), dataset.count);
        expect(computer.graphs?.trustedKinds().length ?? 0).toBe(shardGraphs ? 2 : 0);
        hashes.push(state.hashes().weightsSha256);
        computer.dispose();
      }
      expect(hashes[1]).toBe(hashes[0]);
    });
  }
});
