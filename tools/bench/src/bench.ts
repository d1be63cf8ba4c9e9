#!/usr/bin/env node
/**
 * npm run bench [-- --quick]: side-by-side measurements on one machine and backend, printed as a
 * table and then, as the last line, one JSON object of ratios and raw times (docs/performance.md).
 * Not a test: timings on shared machines are noisy, so nothing here asserts.
 */
import { availableParallelism } from 'node:os';
import { parameterCount, parameterSpec, SEED_MODEL } from '@distgan/models';
import { Adam } from '@distgan/optim';
import { parseBackendChoice, selectBackend } from '@distgan/runtime';
import { computeOnly, msPerStep, throughputRatio, type ComputeRun } from './compute-ceiling.js';
import { naiveSeedSteps } from './naive.js';
import { graphVsEager } from './graph-vs-eager.js';
import { findPeerPython, peerStep } from './peer.js';
import { relayOnly } from './relay-ceiling.js';
import { printTable, resultRows } from './report.js';
import { coordinatorRun, inProcessSteps, median, rounded, thousandths, type StepLine } from './runs.js';
import { toolArgs } from './tool-args.js';

const USAGE = `usage: npm run bench [-- --quick] [-- --backend auto|node|wasm|cpu]

Side-by-side measurements on this machine and one tfjs backend, printed as a table and, as the
last line, one JSON object of ratios and raw times. A full run (3 rounds) takes 15 to 20 minutes
on 2 cores; --quick (one round, fewer steps) about 5. With a Python that has TensorFlow (DISTGAN_PEER_PYTHON, else
python3), the tutorial's own graph-mode step is timed too, as vsPeer_b128 and vsPeer_b512.
`;

async function main(): Promise<void> {
  const { values } = toolArgs(USAGE, { options: { quick: { type: 'boolean', default: false }, backend: { type: 'string', default: 'auto' } } });
  const quick = values.quick === true;
  const steps = quick ? 12 : 40;
  const memorySteps = quick ? 60 : 300;
  const selection = await selectBackend(parseBackendChoice(values.backend ?? 'auto'));
  const backend = selection.backend;
  const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
  // The coordinator's Adam runs WebAssembly SIMD where the runtime has it, else JavaScript (same bits).
  const adamKernel = new Adam(0).kernel;
  log(`backend ${backend}, Adam kernel ${adamKernel}, ${availableParallelism()} cores, ${quick ? 'quick' : 'full'} run`);

  const rounds = quick ? 1 : 3;
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
  if (graphRatio)
    log(
      `one task, B=128: graph D ${graphRatio.graphDMs.toFixed(1)} G ${graphRatio.graphGMs.toFixed(1)} ms, eager D ${graphRatio.eagerDMs.toFixed(1)} G ${graphRatio.eagerGMs.toFixed(1)} ms`,
    );
  log(`memory: ${memorySteps} in-process steps`);
  const memory = await inProcessSteps(128, 4, memorySteps);

  // Steps left out of each run: the first ones run slower, by up to a fifth with two workers, for
  // about 30 steps at B = 128 and 10 at B = 512 (seen in metrics.jsonl's stepMs); the ratios are
  // of the steady state that a long run spends its time in.
  const warmFor = (batchSize: number) => (batchSize >= 512 ? 10 : 30);
  const bigSteps = Math.max(6, Math.round(steps / 3));
  const run =
    (batchSize: number, shards: number, workers: number | 'in-process', n: number, verify = 0, env: Record<string, string> = {}) =>
    (): StepLine[] =>
      coordinatorRun(
        [
          // Unchecked unless asked: the ratios compare the relay, not --verify's extra compute.
          '--verify',
          String(verify),
          '--backend',
          backend,
          '--steps',
          String(n + warmFor(batchSize)),
          '--batch-size',
          String(batchSize),
          '--shards',
          String(shards),
          ...(workers === 'in-process' ? ['--in-process'] : ['--workers', String(workers), '--min-workers', String(workers)]),
        ],
        warmFor(batchSize),
        workers === 'in-process' ? 0 : workers,
        env,
      );
  // Local workers take snapshots from files in a shared folder; these runs send them over the sockets instead.
  const overSockets = { DISTGAN_SHARED_SNAPSHOTS: 'off' };
  // K = 2 gives each of 2 workers one shard per phase (the fewest messages); K = 4 and 8 split
  // finer, as a run with more or uneven workers would, and cost more coordinator work per phase.
  const configs = {
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
  type Config = keyof typeof configs;
  // Round after round, every configuration once: a slow spell of a shared machine then hits all of
  // them, and each ratio is the median of its per-round ratios.
  const lines = Object.fromEntries(Object.keys(configs).map((k) => [k, [] as StepLine[][]])) as Record<Config, StepLine[][]>;
  // The compute ceiling of each batch size, in the same rounds: the workers' compute alone, one
  // process at the whole batch against two at half of it (compute-ceiling.ts).
  const computeSeconds = quick ? 3 : 6;
  const computeRuns: Record<'b128' | 'b512', { whole: ComputeRun; halves: ComputeRun[] }[]> = { b128: [], b512: [] };
  // And the relay ceiling: the same runs with the coordinator's arithmetic taken out (relay-ceiling.ts).
  const relayRuns: Record<'b128' | 'b512', { one: number[]; two: number[] }[]> = { b128: [], b512: [] };
  // And the peer: the tutorial's TensorFlow graph-mode step, where a Python with TensorFlow is here.
  const peer = findPeerPython();
  if ('skipped' in peer) log(`peer skipped: ${peer.skipped}`);
  const peerRuns: Record<'b128' | 'b512', number[]> = { b128: [], b512: [] };
  let peerVersion: string | null = null;
  for (let r = 0; r < rounds; r++) {
    if ('python' in peer) {
      for (const [key, batchSize, n] of [
        ['b128', 128, Math.max(steps, 40) * 2],
        ['b512', 512, bigSteps * 2],
      ] as const) {
        log(`round ${r + 1}/${rounds}: peer, TensorFlow graph mode, B=${batchSize}`);
        const step = peerStep(peer.python, batchSize, n, warmFor(batchSize));
        peerRuns[key].push(step.msPerStep);
        peerVersion = step.tensorflow;
      }
    }
    for (const [name, measure] of Object.entries(configs) as [Config, () => StepLine[]][]) {
      log(`round ${r + 1}/${rounds}: ${name}`);
      lines[name].push(measure());
    }
    for (const [key, batchSize] of [
      ['b128', 128],
      ['b512', 512],
    ] as const) {
      log(`round ${r + 1}/${rounds}: compute only, B=${batchSize}, 1 process then 2`);
      const [whole] = await computeOnly(batchSize, 1, computeSeconds, backend);
      if (!whole) throw new Error('compute-only with 1 process answered nothing');
      computeRuns[key].push({ whole, halves: await computeOnly(batchSize, 2, computeSeconds, backend) });
    }
    // At least 40 steps at B = 128, also with --quick: a bound read off 12 steps of a shared VM
    // swung by a fifth between runs.
    for (const [key, batchSize, n] of [
      ['b128', 128, Math.max(steps, 40)],
      ['b512', 512, bigSteps],
    ] as const) {
      log(`round ${r + 1}/${rounds}: relay only (no fold, no Adam), B=${batchSize}, 1 worker then 2`);
      const one = await relayOnly(batchSize, 1, n, warmFor(batchSize), backend);
      relayRuns[key].push({ one, two: await relayOnly(batchSize, 2, n, warmFor(batchSize), backend) });
    }
  }

  const dParams = parameterCount(parameterSpec(SEED_MODEL.discriminator));
  const gParams = parameterCount(parameterSpec(SEED_MODEL.generator));
  // Minimum per step and worker: per phase one changed-network snapshot in (G before
  // the D phase, D before the G phase) and one gradient out (D's, then G's).
  const minimumPerWorker = 4 * (dParams + gParams) + 4 * (dParams + gParams);
  const all = (name: Config) => lines[name].flat();
  const wire = (name: Config, workers: number) => median(all(name).map((l) => l.bytesIn + l.bytesOut)) / (workers * minimumPerWorker);
  const stepMs = (name: Config) => median(all(name).map((l) => l.stepMs));
  const roundMs = (name: Config, r: number) => median(lines[name][r]!.map((l) => l.stepMs));
  const roundRatios = (a: Config, b: Config) => lines[a].map((_, r) => thousandths(roundMs(a, r) / roundMs(b, r)));
  const ratio = (a: Config, b: Config) => median(roundRatios(a, b));
  // Step time not covered by the mean worker's compute: transfers, decoding, Adam, waiting.
  const coordinationMs = (name: Config, workers: number) => median(all(name).map((l) => l.stepMs - l.shardComputeMs / workers));
  // CPU time per step of every process (coordinator and workers, all on this machine). Spread
  // perfectly over the cores it still takes cpu / cores, so a step cannot be shorter, and the most
  // 2 workers can gain over 1 is T1 / (cpu2 / cores): the ceiling that CPU time alone puts on
  // scaling2. Per round, like the ratios it bounds (a slow spell moves a round's ratio and ceiling
  // together), then the median. `busy` is the share of the machine's CPU a run kept busy (near 1:
  // saturated).
  const cores = availableParallelism();
  const cpuOf = (lines: StepLine[]) => median(lines.map((l) => l.coordinatorCpuMs + l.workerCpuMs));
  const cpuMs = (name: Config) => cpuOf(all(name));
  const workerCpuMs = (name: Config) => median(all(name).map((l) => l.workerCpuMs));
  const roundCeilings = (one: Config, two: Config) => lines[one].map((_, r) => thousandths(roundMs(one, r) / (cpuOf(lines[two][r]!) / cores)));
  const ceiling = (one: Config, two: Config) => median(roundCeilings(one, two));
  const roundComputeCeilings = (key: 'b128' | 'b512') => computeRuns[key].map(({ whole, halves }) => thousandths(throughputRatio(whole, halves)));
  // Milliseconds per step of the one process, and of the two (the mean of theirs).
  const wholeMs = (key: 'b128' | 'b512') => median(computeRuns[key].map(({ whole }) => msPerStep(whole)));
  const halvesMs = (key: 'b128' | 'b512') => median(computeRuns[key].map(({ halves }) => halves.reduce((sum, h) => sum + msPerStep(h), 0) / halves.length));
  const roundRelayCeilings = (key: 'b128' | 'b512') => relayRuns[key].map(({ one, two }) => thousandths(median(one) / median(two)));
  const relayMs = (key: 'b128' | 'b512', workers: 'one' | 'two') => median(relayRuns[key].map((run) => median(run[workers])));
  const busy = (name: Config) => thousandths(cpuMs(name) / (cores * stepMs(name)));
  // distgan's step over the peer's, per round: the slower of one process (K=1) and 2 local workers (K=2).
  const roundVsPeer = (key: 'b128' | 'b512', inProcess: Config, twoWorkers: Config) =>
    peerRuns[key].map((peerMs, r) => thousandths(Math.max(roundMs(inProcess, r), roundMs(twoWorkers, r)) / peerMs));
  const vsPeer =
    peerVersion === null
      ? { vsPeer_b128: null, vsPeer_b512: null, peerSkipped: 'skipped' in peer ? peer.skipped : 'not run' }
      : {
          vsPeer_b128: median(roundVsPeer('b128', 'inProcessK1', 'k2w2')),
          vsPeer_b512: median(roundVsPeer('b512', 'inProcessB512K1', 'b512w2')),
          rounds_vsPeer_b128: roundVsPeer('b128', 'inProcessK1', 'k2w2'),
          rounds_vsPeer_b512: roundVsPeer('b512', 'inProcessB512K1', 'b512w2'),
          peerTensorflow: peerVersion,
          // The 2-worker step's time not spent computing (K=2, B=128) over the peer's whole step.
          relayVsPeer_b128: thousandths(coordinationMs('k2w2', 2) / median(peerRuns.b128)),
          peerMs: median(peerRuns.b128),
          peerB512Ms: median(peerRuns.b512),
        };

  const t = {
    inProcessMs: median(localTimes),
    naiveMs: median(naiveTimes),
    inProcessCliMs: stepMs('inProcessK4'),
    inProcessK1Ms: stepMs('inProcessK1'),
    inProcessB512K1Ms: stepMs('inProcessB512K1'),
    dist1Ms: stepMs('k4w1'),
    dist2Ms: stepMs('k4w2'),
    dist1K2Ms: stepMs('k2w1'),
    dist2K2Ms: stepMs('k2w2'),
    dist1B512Ms: stepMs('b512w1'),
    dist2B512Ms: stepMs('b512w2'),
    coordination1K2Ms: coordinationMs('k2w1', 1),
    coordination2K2Ms: coordinationMs('k2w2', 2),
    cpu1K2Ms: cpuMs('k2w1'),
    cpu2K2Ms: cpuMs('k2w2'),
    cpu1B512Ms: cpuMs('b512w1'),
    cpu2B512Ms: cpuMs('b512w2'),
    // The workers' share of those (the rest is the coordinator's).
    workerCpu1K2Ms: workerCpuMs('k2w1'),
    workerCpu2K2Ms: workerCpuMs('k2w2'),
    workerCpu1B512Ms: workerCpuMs('b512w1'),
    workerCpu2B512Ms: workerCpuMs('b512w2'),
    computeOnly1Ms: wholeMs('b128'),
    computeOnly2Ms: halvesMs('b128'),
    computeOnly1B512Ms: wholeMs('b512'),
    computeOnly2B512Ms: halvesMs('b512'),
    relay1Ms: relayMs('b128', 'one'),
    relay2Ms: relayMs('b128', 'two'),
    relay1B512Ms: relayMs('b512', 'one'),
    relay2B512Ms: relayMs('b512', 'two'),
    ...(quick ? {} : { dist1B512K8Ms: stepMs('b512k8w1'), dist2B512K8Ms: stepMs('b512k8w2') }),
  };
  const result = {
    overhead1: ratio('k4w1', 'inProcessK4'),
    scaling2_b128: ratio('k2w1', 'k2w2'),
    scaling2_b512: ratio('b512w1', 'b512w2'),
    scaling2_b128_k4: ratio('k4w1', 'k4w2'),
    ...(quick ? {} : { scaling2_b512_k8: ratio('b512k8w1', 'b512k8w2') }),
    cpuCeiling2_b128: ceiling('k2w1', 'k2w2'),
    cpuCeiling2_b512: ceiling('b512w1', 'b512w2'),
    computeCeiling2_b128: median(roundComputeCeilings('b128')),
    computeCeiling2_b512: median(roundComputeCeilings('b512')),
    relayCeiling2_b128: median(roundRelayCeilings('b128')),
    relayCeiling2_b512: median(roundRelayCeilings('b512')),
    busy2_b128: busy('k2w2'),
    busy2_b512: busy('b512w2'),
    // Over the sockets: bytes read from the shared folder never cross a network.
    wireRatio: wire('k2w2Socket', 2),
    wireRatio_k4: wire('k4w2Socket', 2),
    sharedVsSocket_b128: ratio('k2w2', 'k2w2Socket'),
    stepVsNaive: median(oursVsNaive),
    // --verify 0.1 with 2 local workers: the coordinator computes a tenth of the tasks again.
    verifyOverhead: ratio('k2w2Verify', 'k2w2'),
    graphVsEager: graphRatio ? thousandths(graphRatio.ratio) : null,
    ...vsPeer,
    // Each round's ratio, to show how much a shared machine moves them.
    rounds_overhead1: roundRatios('k4w1', 'inProcessK4'),
    rounds_scaling2_b128: roundRatios('k2w1', 'k2w2'),
    rounds_scaling2_b512: roundRatios('b512w1', 'b512w2'),
    rounds_cpuCeiling2_b128: roundCeilings('k2w1', 'k2w2'),
    rounds_cpuCeiling2_b512: roundCeilings('b512w1', 'b512w2'),
    rounds_computeCeiling2_b128: roundComputeCeilings('b128'),
    rounds_computeCeiling2_b512: roundComputeCeilings('b512'),
    rounds_relayCeiling2_b128: roundRelayCeilings('b128'),
    rounds_relayCeiling2_b512: roundRelayCeilings('b512'),
    tensorGrowth: memory.tensorGrowth,
    rssGrowthMB: Math.round(memory.rssGrowthMB * 10) / 10,
    memorySteps,
    rounds,
    backend,
    adamKernel,
    cores,
    quick,
    ...rounded(t),
  };
  printTable(resultRows(result, { cores, memorySteps, peerSkipped: vsPeer.peerSkipped }));
  const r = rounded(t);
  process.stdout.write(
    `raw ms per step (medians over ${rounds} round(s)): in-process ${r.inProcessMs} (coordinator --in-process K=4 ${r.inProcessCliMs}, K=1 ${r.inProcessK1Ms}, B=512 K=1 ${r.inProcessB512K1Ms}), naive ${r.naiveMs}; B=128 K=4: 1 worker ${r.dist1Ms}, 2 workers ${r.dist2Ms}; B=128 K=2: 1 worker ${r.dist1K2Ms}, 2 workers ${r.dist2K2Ms} (not computing: ${r.coordination1K2Ms}, ${r.coordination2K2Ms}); B=512 K=2: 1 worker ${r.dist1B512Ms}, 2 workers ${r.dist2B512Ms}; CPU ms per step, all processes (workers'): B=128 K=2 ${r.cpu1K2Ms} (${r.workerCpu1K2Ms}) / ${r.cpu2K2Ms} (${r.workerCpu2K2Ms}), B=512 K=2 ${r.cpu1B512Ms} (${r.workerCpu1B512Ms}) / ${r.cpu2B512Ms} (${r.workerCpu2B512Ms}); compute only, 1 process / 2: B=128 ${r.computeOnly1Ms} / ${r.computeOnly2Ms}, B=512 ${r.computeOnly1B512Ms} / ${r.computeOnly2B512Ms}; relay only, 1 worker / 2: B=128 ${r.relay1Ms} / ${r.relay2Ms}, B=512 ${r.relay1B512Ms} / ${r.relay2B512Ms}\n`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(2);
}
