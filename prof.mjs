import { selectBackend } from '@distgan/runtime';
import { loadMnist } from '@distgan/mnist';
import { LocalExecutor, makeRunConfig, ShardComputer, trainStep, TrainingState } from '@distgan/training';
await selectBackend('wasm');
const data = loadMnist();
for (const [preset, B, K] of [['default', 64, 1], ['default', 64, 2], ['default', 64, 4], ['seed', 128, 1], ['seed', 128, 4]]) {
  const config = makeRunConfig(preset, { batchSize: B, shards: K });
  const state = new TrainingState(config);
  const c = new ShardComputer(config, data);
  const ex = new LocalExecutor(c);
  for (let i = 0; i < 3; i++) await trainStep(state, ex, data.count);
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) await trainStep(state, ex, data.count);
  console.log(preset, 'B', B, 'K', K, 'ms/step', ((performance.now() - t0) / 10).toFixed(1));
  c.dispose();
}
