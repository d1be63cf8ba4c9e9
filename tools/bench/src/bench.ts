#!/usr/bin/env node
/**
 * npm run bench [-- --quick]: side-by-side measurements on one machine and backend, printed as a
 * table and then, as the last line, one JSON object of ratios and raw times (docs/performance.md).
 * Not a test: timings on shared machines are noisy, so nothing here asserts.
 */
import { availableParallelism } from 'node:os';
import { Adam } from '@distgan/optim';
import { parseBackendChoice, selectBackend } from '@distgan/runtime';
import { analyse, type BatchKey, type BenchConfig, type InProcessMeasured, type Measured } from './bench-analysis.js';
import { computeOnly } from './compute-ceiling.js';
import { naiveSeedSteps } from './naive.js';
import { graphVsEager } from './graph-vs-eager.js';
import { findPeerPython, peerStep } from './peer.js';
import { relayOnly } from './relay-ceiling.js';
import { printTable, resultRows } from './report.js';
import { coordinatorRun, inProcessSteps, median, type StepLine } from './runs.js';
import { toolArgs } from './tool-args.js';

const USAGE = `usage: npm run bench [-- --quick] [-- --backend auto|node|wasm|cpu]

Side-by-side measurements on this machine and one tfjs backend, printed as a table and, as the
last line, one JSON object of ratios and raw times. A full run (3 rounds) takes 15 to 20 minutes
on 2 cores; --quick (one round, fewer steps) about 5. With a Python that has TensorFlow (DISTGAN_PEER_PYTHON, else
python3), the tutorial's own graph-mode step is timed too, as vsPeer_b128 and vsPeer_b512.
`;

/** How much a run measures: `--quick` runs one round of fewer steps. */
interface BenchPlan {
  readonly quick: boolean;
  readonly steps: number;
  readonly memorySteps: number;
  readonly rounds: number;
  readonly backend: string;
}

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

async function main(): Promise<void> {
  const { values } = toolArgs(USAGE, { options: { quick: { type: 'boolean', default: false }, backend: { type: 'string', default: 'auto' } } });
  const quick = values.quick === true;
  const selection = await selectBackend(parseBackendChoice(values.backend ?? 'auto'));
  const plan: BenchPlan = { quick, steps: quick ? 12 : 40, memorySteps: quick ? 60 : 300, rounds: quick ? 1 : 3, backend: selection.backend };
  // The coordinator's Adam runs WebAssembly SIMD where the runtime has it, else JavaScript (same bits).
  const adamKernel = new Adam(0).kernel;
  log(`backend ${plan.backend}, Adam kernel ${adamKernel}, ${availableParallelism()} cores, ${quick ? 'quick' : 'full'} run`);
  const inProcess = await measureInProcess(plan);
  const measured = await measureRounds(plan);
  const { result: analysed, times: r } = analyse(measured, inProcess, plan);
  const result = { ...analysed, memorySteps: plan.memorySteps, rounds: plan.rounds, backend: plan.backend, adamKernel };
  printTable(resultRows(result, { cores: analysed.cores, memorySteps: plan.memorySteps, peerSkipped: analysed.peerSkipped }));
  process.stdout.write(
    `raw ms per step (medians over ${plan.rounds} round(s)): in-process ${r.inProcessMs} (coordinator --in-process K=4 ${r.inProcessCliMs}, K=1 ${r.inProcessK1Ms}, B=512 K=1 ${r.inProcessB512K1Ms}), naive ${r.naiveMs}; B=128 K=4: 1 worker ${r.dist1Ms}, 2 workers ${r.dist2Ms}; B=128 K=2: 1 worker ${r.dist1K2Ms}, 2 workers ${r.dist2K2Ms} (not computing: ${r.coordination1K2Ms}, ${r.coordination2K2Ms}); B=512 K=2: 1 worker ${r.dist1B512Ms}, 2 workers ${r.dist2B512Ms}; CPU ms per step, all processes (workers'): B=128 K=2 ${r.cpu1K2Ms} (${r.workerCpu1K2Ms}) / ${r.cpu2K2Ms} (${r.workerCpu2K2Ms}), B=512 K=2 ${r.cpu1B512Ms} (${r.workerCpu1B512Ms}) / ${r.cpu2B512Ms} (${r.workerCpu2B512Ms}); compute only, 1 process / 2: B=128 ${r.computeOnly1Ms} / ${r.computeOnly2Ms}, B=512 ${r.computeOnly1B512Ms} / ${r.computeOnly2B512Ms}; relay only, 1 worker / 2: B=128 ${r.relay1Ms} / ${r.relay2Ms}, B=512 ${r.relay1B512Ms} / ${r.relay2B512Ms}\n`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Our in-process step against the tutorial written plainly in tfjs, the graph path's gain on node, and memory growth. */
async function measureInProcess({ quick, steps, memorySteps, rounds, backend }: BenchPlan): Promise<InProcessMeasured> {
  log(`in-process step and naive tfjs step (the tutorial written plainly), seed model, B=128 K=4, ${rounds} round(s)`);
  naiveSeedSteps(2);
  const oursVsNaive: number[] = [];
  const localTimes: number[] = [];
  const naiveTimes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const ours = (await inProcessSteps(128, 4, steps)).times;
    const naive = naiveSeedSteps(steps);
    oursVsNaive.push(median(ours) / median(naive));
    localTimes.push(...ours);
    naiveTimes.push(...naive);
  }
  const graphRatio = backend === 'node' ? graphVsEager(128, quick ? 30 : 100) : null;
  if (graphRatio) {
    const { graphDMs, graphGMs, eagerDMs, eagerGMs } = graphRatio;
    log(`one task, B=128: graph D ${graphDMs.toFixed(1)} G ${graphGMs.toFixed(1)} ms, eager D ${eagerDMs.toFixed(1)} G ${eagerGMs.toFixed(1)} ms`);
  }
  log(`memory: ${memorySteps} in-process steps`);
  const memory = await inProcessSteps(128, 4, memorySteps);
  return { oursVsNaive, localTimes, naiveTimes, graphRatio, memory };
}

// Steps left out of each run: the first ones run slower, by up to a fifth with two workers, for
// about 30 steps at B = 128 and 10 at B = 512 (seen in metrics.jsonl's stepMs); the ratios are of
// the steady state that a long run spends its time in.
const warmFor = (batchSize: number) => (batchSize >= 512 ? 10 : 30);
const bigStepsOf = (steps: number) => Math.max(6, Math.round(steps / 3));

/** Each distributed configuration, as a function that runs it once and returns its step lines. */
function distributedRuns({ quick, steps, backend }: BenchPlan): Partial<Record<BenchConfig, () => StepLine[]>> {
  const bigSteps = bigStepsOf(steps);
  const run =
    (batchSize: number, shards: number, workers: number | 'in-process', n: number, verify = 0, env: Record<string, string> = {}) =>
    (): StepLine[] => {
      const where = workers === 'in-process' ? ['--in-process'] : ['--workers', String(workers), '--min-workers', String(workers)];
      // Unchecked unless asked: the ratios compare the relay, not --verify's extra compute.
      const args = ['--verify', String(verify), '--backend', backend, '--steps', String(n + warmFor(batchSize))];
      args.push('--batch-size', String(batchSize), '--shards', String(shards), ...where);
      return coordinatorRun(args, warmFor(batchSize), workers === 'in-process' ? 0 : workers, env);
    };
  // Local workers take snapshots from files in a shared folder; these runs send them over the sockets instead.
  const overSockets = { DISTGAN_SHARED_SNAPSHOTS: 'off' };
  // K = 2 gives each of 2 workers one shard per phase (the fewest messages); K = 4 and 8 split
  // finer, as a run with more or uneven workers would, and cost more coordinator work per phase.
  return {
    inProcessK4: run(128, 4, 'in-process', steps),
    // One process computes the whole batch in one shard: how a single machine would run it.
    inProcessK1: run(128, 1, 'in-process', steps),
    inProcessB512K1: run(512, 1, 'in-process', bigSteps),
    k4w1: run(128, 4, 1, steps),
    k4w2: run(128, 4, 2, steps),
    k4w2Socket: run(128, 4, 2, steps, 0, overSockets),
    k2w1: run(128, 2, 1, steps),
    k2w2: run(128, 2, 2, steps),
    k2w2Socket: run(128, 2, 2, steps, 0, overSockets),
    k2w2Verify: run(128, 2, 2, steps, 0.1),
    b512w1: run(512, 2, 1, bigSteps),
    b512w2: run(512, 2, 2, bigSteps),
    ...(quick ? {} : { b512k8w1: run(512, 8, 1, bigSteps), b512k8w2: run(512, 8, 2, bigSteps) }),
  };
}

/**
 * Round after round, every configuration once, then the compute and relay ceilings and the peer:
 * a slow spell of a shared machine then hits all of them, and each ratio is the median of its
 * per-round ratios.
 */
async function measureRounds(plan: BenchPlan): Promise<Measured<BenchConfig>> {
  const configs = Object.entries(distributedRuns(plan)) as [BenchConfig, () => StepLine[]][];
  const lines = Object.fromEntries(configs.map(([k]) => [k, [] as StepLine[][]])) as Record<BenchConfig, StepLine[][]>;
  const measured = { lines, computeRuns: { b128: [], b512: [] }, relayRuns: { b128: [], b512: [] }, peerRuns: { b128: [], b512: [] } };
  const peer = findPeerPython();
  if ('skipped' in peer) log(`peer skipped: ${peer.skipped}`);
  let peerVersion: string | null = null;
  for (let r = 0; r < plan.rounds; r++) {
    const round = `round ${r + 1}/${plan.rounds}`;
    if ('python' in peer) peerVersion = peerRound(peer.python, plan, measured.peerRuns, round);
    for (const [name, measure] of configs) {
      log(`${round}: ${name}`);
      lines[name].push(measure());
    }
    await ceilingsRound(plan, measured, round);
  }
  return { ...measured, peerVersion, peerSkipped: 'skipped' in peer ? peer.skipped : 'not run' };
}

/**
 * One round of the ceilings: the workers' compute alone, one process at the whole batch against
 * two at half of it (compute-ceiling.ts), and the same runs with the coordinator's arithmetic
 * taken out (relay-ceiling.ts).
 */
async function ceilingsRound({ quick, steps, backend }: BenchPlan, m: Pick<Measured<BenchConfig>, 'computeRuns' | 'relayRuns'>, round: string): Promise<void> {
  const computeSeconds = quick ? 3 : 6;
  for (const [key, batchSize] of [
    ['b128', 128],
    ['b512', 512],
  ] as const) {
    log(`${round}: compute only, B=${batchSize}, 1 process then 2`);
    const [whole] = await computeOnly(batchSize, 1, computeSeconds, backend);
    if (!whole) throw new Error('compute-only with 1 process answered nothing');
    m.computeRuns[key].push({ whole, halves: await computeOnly(batchSize, 2, computeSeconds, backend) });
  }
  // At least 40 steps at B = 128, also with --quick: a bound read off 12 steps of a shared VM
  // swung by a fifth between runs.
  for (const [key, batchSize, n] of [
    ['b128', 128, Math.max(steps, 40)],
    ['b512', 512, bigStepsOf(steps)],
  ] as const) {
    log(`${round}: relay only (no fold, no Adam), B=${batchSize}, 1 worker then 2`);
    const one = await relayOnly(batchSize, 1, n, warmFor(batchSize), backend);
    m.relayRuns[key].push({ one, two: await relayOnly(batchSize, 2, n, warmFor(batchSize), backend) });
  }
}

/** One round of the tutorial's TensorFlow graph-mode step (the peer) at both batch sizes; returns its TensorFlow version. */
function peerRound(python: string, { steps }: BenchPlan, runs: Record<BatchKey, number[]>, round: string): string {
  let version = '';
  for (const [key, batchSize, n] of [
    ['b128', 128, Math.max(steps, 40) * 2],
    ['b512', 512, bigStepsOf(steps) * 2],
  ] as const) {
    log(`${round}: peer, TensorFlow graph mode, B=${batchSize}`);
    const step = peerStep(python, batchSize, n, warmFor(batchSize));
    runs[key].push(step.msPerStep);
    version = step.tensorflow;
  }
  return version;
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(2);
}
