import { availableParallelism } from 'node:os';
import { parameterCount, parameterSpec, SEED_MODEL } from '@distgan/models';
import { msPerStep, throughputRatio, type ComputeRun } from './compute-ceiling.js';
import type { GraphVsEager } from './graph-vs-eager.js';
import { median, rounded, thousandths, type StepLine } from './runs.js';

export type BatchKey = 'b128' | 'b512';

/** What one bench run measured, round by round. */
export interface Measured<Config extends string> {
  /** Each distributed configuration's step lines, one array per round. */
  readonly lines: Record<Config, StepLine[][]>;
  /** The workers' compute alone per batch size: one process at the whole batch, two at half each. */
  readonly computeRuns: Record<BatchKey, { whole: ComputeRun; halves: ComputeRun[] }[]>;
  /** The relay alone (no fold, no Adam) per batch size: step times with one worker and two. */
  readonly relayRuns: Record<BatchKey, { one: number[]; two: number[] }[]>;
  /** The tutorial's TensorFlow step per round, where a Python with TensorFlow ran it. */
  readonly peerRuns: Record<BatchKey, number[]>;
  readonly peerVersion: string | null;
  readonly peerSkipped: string;
}

/** The in-process measurements: our step against the naive tfjs step, the graph path, memory growth. */
export interface InProcessMeasured {
  readonly oursVsNaive: number[];
  readonly localTimes: number[];
  readonly naiveTimes: number[];
  readonly graphRatio: GraphVsEager | null;
  readonly memory: { tensorGrowth: number; rssGrowthMB: number };
}

/** The medians the ratios are made of, over a run's rounds. */
function statsOf<C extends string>(m: Measured<C>) {
  const { lines, computeRuns, relayRuns } = m;
  const dParams = parameterCount(parameterSpec(SEED_MODEL.discriminator));
  const gParams = parameterCount(parameterSpec(SEED_MODEL.generator));
  // Minimum per step and worker: per phase one changed-network snapshot in (G before the D phase,
  // D before the G phase) and one gradient out (D's, then G's).
  const minimumPerWorker = 4 * (dParams + gParams) + 4 * (dParams + gParams);
  const all = (name: C) => lines[name].flat();
  const roundMs = (name: C, r: number) => median(lines[name][r]?.map((l) => l.stepMs) ?? []);
  const roundRatios = (a: C, b: C) => lines[a].map((_, r) => thousandths(roundMs(a, r) / roundMs(b, r)));
  // CPU time per step of every process (coordinator and workers, all on this machine). Spread
  // perfectly over the cores it still takes cpu / cores, so a step cannot be shorter, and the most
  // 2 workers can gain over 1 is T1 / (cpu2 / cores): the ceiling that CPU time alone puts on
  // scaling2. Per round, like the ratios it bounds (a slow spell moves a round's ratio and ceiling
  // together), then the median.
  const cores = availableParallelism();
  const cpuOf = (stepLines: StepLine[]) => median(stepLines.map((l) => l.coordinatorCpuMs + l.workerCpuMs));
  const roundCeilings = (one: C, two: C) => lines[one].map((_, r) => thousandths(roundMs(one, r) / (cpuOf(lines[two][r] ?? []) / cores)));
  return {
    cores,
    all,
    roundMs,
    roundRatios,
    roundCeilings,
    ratio: (a: C, b: C) => median(roundRatios(a, b)),
    ceiling: (one: C, two: C) => median(roundCeilings(one, two)),
    wire: (name: C, workers: number) => median(all(name).map((l) => l.bytesIn + l.bytesOut)) / (workers * minimumPerWorker),
    stepMs: (name: C) => median(all(name).map((l) => l.stepMs)),
    // Step time not covered by the mean worker's compute: transfers, decoding, Adam, waiting.
    coordinationMs: (name: C, workers: number) => median(all(name).map((l) => l.stepMs - l.shardComputeMs / workers)),
    cpuMs: (name: C) => cpuOf(all(name)),
    workerCpuMs: (name: C) => median(all(name).map((l) => l.workerCpuMs)),
    roundComputeCeilings: (key: BatchKey) => computeRuns[key].map(({ whole, halves }) => thousandths(throughputRatio(whole, halves))),
    // Milliseconds per step of the one process, and of the two (the mean of theirs).
    wholeMs: (key: BatchKey) => median(computeRuns[key].map(({ whole }) => msPerStep(whole))),
    halvesMs: (key: BatchKey) => median(computeRuns[key].map(({ halves }) => halves.reduce((sum, h) => sum + msPerStep(h), 0) / halves.length)),
    roundRelayCeilings: (key: BatchKey) => relayRuns[key].map(({ one, two }) => thousandths(median(one) / median(two))),
    relayMs: (key: BatchKey, workers: 'one' | 'two') => median(relayRuns[key].map((run) => median(run[workers]))),
  };
}

type Stats<C extends string> = ReturnType<typeof statsOf<C>>;

/** The configurations a bench run measures (bench.ts `distributedRuns`). */
export type BenchConfig =
  | 'inProcessK4'
  | 'inProcessK1'
  | 'inProcessB512K1'
  | 'k4w1'
  | 'k4w2'
  | 'k4w2Socket'
  | 'k2w1'
  | 'k2w2'
  | 'k2w2Socket'
  | 'k2w2Verify'
  | 'b512w1'
  | 'b512w2'
  | 'b512k8w1'
  | 'b512k8w2';

/** Raw milliseconds per step, medians over the rounds. */
function stepTimes(s: Stats<BenchConfig>, inProcess: InProcessMeasured, quick: boolean): Record<string, number> {
  return rounded({
    inProcessMs: median(inProcess.localTimes),
    naiveMs: median(inProcess.naiveTimes),
    inProcessCliMs: s.stepMs('inProcessK4'),
    inProcessK1Ms: s.stepMs('inProcessK1'),
    inProcessB512K1Ms: s.stepMs('inProcessB512K1'),
    dist1Ms: s.stepMs('k4w1'),
    dist2Ms: s.stepMs('k4w2'),
    dist1K2Ms: s.stepMs('k2w1'),
    dist2K2Ms: s.stepMs('k2w2'),
    dist1B512Ms: s.stepMs('b512w1'),
    dist2B512Ms: s.stepMs('b512w2'),
    coordination1K2Ms: s.coordinationMs('k2w1', 1),
    coordination2K2Ms: s.coordinationMs('k2w2', 2),
    cpu1K2Ms: s.cpuMs('k2w1'),
    cpu2K2Ms: s.cpuMs('k2w2'),
    cpu1B512Ms: s.cpuMs('b512w1'),
    cpu2B512Ms: s.cpuMs('b512w2'),
    // The workers' share of those (the rest is the coordinator's).
    workerCpu1K2Ms: s.workerCpuMs('k2w1'),
    workerCpu2K2Ms: s.workerCpuMs('k2w2'),
    workerCpu1B512Ms: s.workerCpuMs('b512w1'),
    workerCpu2B512Ms: s.workerCpuMs('b512w2'),
    computeOnly1Ms: s.wholeMs('b128'),
    computeOnly2Ms: s.halvesMs('b128'),
    computeOnly1B512Ms: s.wholeMs('b512'),
    computeOnly2B512Ms: s.halvesMs('b512'),
    relay1Ms: s.relayMs('b128', 'one'),
    relay2Ms: s.relayMs('b128', 'two'),
    relay1B512Ms: s.relayMs('b512', 'one'),
    relay2B512Ms: s.relayMs('b512', 'two'),
    ...(quick ? {} : { dist1B512K8Ms: s.stepMs('b512k8w1'), dist2B512K8Ms: s.stepMs('b512k8w2') }),
  });
}

/** distgan's step over the peer's, per round and as medians (null where the peer did not run). */
function versusPeer(s: Stats<BenchConfig>, m: Measured<BenchConfig>) {
  if (m.peerVersion === null) return { vsPeer_b128: null, vsPeer_b512: null, peerSkipped: m.peerSkipped };
  // The slower of one process (K=1) and 2 local workers (K=2), per round.
  const rounds = (key: BatchKey, inProcess: BenchConfig, twoWorkers: BenchConfig) =>
    m.peerRuns[key].map((peerMs, r) => thousandths(Math.max(s.roundMs(inProcess, r), s.roundMs(twoWorkers, r)) / peerMs));
  return {
    vsPeer_b128: median(rounds('b128', 'inProcessK1', 'k2w2')),
    vsPeer_b512: median(rounds('b512', 'inProcessB512K1', 'b512w2')),
    rounds_vsPeer_b128: rounds('b128', 'inProcessK1', 'k2w2'),
    rounds_vsPeer_b512: rounds('b512', 'inProcessB512K1', 'b512w2'),
    peerTensorflow: m.peerVersion,
    // The 2-worker step's time not spent computing (K=2, B=128) over the peer's whole step.
    relayVsPeer_b128: thousandths(s.coordinationMs('k2w2', 2) / median(m.peerRuns.b128)),
    peerMs: median(m.peerRuns.b128),
    peerB512Ms: median(m.peerRuns.b512),
  };
}

/** Every ratio, with each round's value beside the headline ones, and the raw times. */
export function analyse(m: Measured<BenchConfig>, inProcess: InProcessMeasured, run: { quick: boolean }) {
  const s = statsOf(m);
  const { quick } = run;
  const busy = (name: BenchConfig) => thousandths(s.cpuMs(name) / (s.cores * s.stepMs(name)));
  const times = stepTimes(s, inProcess, quick);
  const result = {
    overhead1: s.ratio('k4w1', 'inProcessK4'),
    scaling2_b128: s.ratio('k2w1', 'k2w2'),
    scaling2_b512: s.ratio('b512w1', 'b512w2'),
    scaling2_b128_k4: s.ratio('k4w1', 'k4w2'),
    ...(quick ? {} : { scaling2_b512_k8: s.ratio('b512k8w1', 'b512k8w2') }),
    cpuCeiling2_b128: s.ceiling('k2w1', 'k2w2'),
    cpuCeiling2_b512: s.ceiling('b512w1', 'b512w2'),
    computeCeiling2_b128: median(s.roundComputeCeilings('b128')),
    computeCeiling2_b512: median(s.roundComputeCeilings('b512')),
    relayCeiling2_b128: median(s.roundRelayCeilings('b128')),
    relayCeiling2_b512: median(s.roundRelayCeilings('b512')),
    // `busy`: the share of the machine's CPU a run kept busy (near 1: saturated).
    busy2_b128: busy('k2w2'),
    busy2_b512: busy('b512w2'),
    // Over the sockets: bytes read from the shared folder never cross a network.
    wireRatio: s.wire('k2w2Socket', 2),
    wireRatio_k4: s.wire('k4w2Socket', 2),
    sharedVsSocket_b128: s.ratio('k2w2', 'k2w2Socket'),
    stepVsNaive: median(inProcess.oursVsNaive),
    // --verify 0.1 with 2 local workers: the coordinator computes a tenth of the tasks again.
    verifyOverhead: s.ratio('k2w2Verify', 'k2w2'),
    graphVsEager: inProcess.graphRatio ? thousandths(inProcess.graphRatio.ratio) : null,
    ...versusPeer(s, m),
    ...roundsOf(s),
    tensorGrowth: inProcess.memory.tensorGrowth,
    rssGrowthMB: Math.round(inProcess.memory.rssGrowthMB * 10) / 10,
    cores: s.cores,
    quick,
    ...times,
  };
  return { result, times };
}

/** Each round's ratio, to show how much a shared machine moves them. */
function roundsOf(s: Stats<BenchConfig>) {
  return {
    rounds_overhead1: s.roundRatios('k4w1', 'inProcessK4'),
    rounds_scaling2_b128: s.roundRatios('k2w1', 'k2w2'),
    rounds_scaling2_b512: s.roundRatios('b512w1', 'b512w2'),
    rounds_cpuCeiling2_b128: s.roundCeilings('k2w1', 'k2w2'),
    rounds_cpuCeiling2_b512: s.roundCeilings('b512w1', 'b512w2'),
    rounds_computeCeiling2_b128: s.roundComputeCeilings('b128'),
    rounds_computeCeiling2_b512: s.roundComputeCeilings('b512'),
    rounds_relayCeiling2_b128: s.roundRelayCeilings('b128'),
    rounds_relayCeiling2_b512: s.roundRelayCeilings('b512'),
  };
}
