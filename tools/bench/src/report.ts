// The bench's table: one row per ratio, what it measures, and its value.

type Row = [name: string, what: string, value: string];

/** A ratio to three decimals (or `digits`), or `missing` where it was not measured. */
function fixed(value: unknown, missing = 'skipped', digits = 3): string {
  return typeof value === 'number' ? value.toFixed(digits) : missing;
}

export interface TableContext {
  readonly cores: number;
  readonly memorySteps: number;
  /** Why the TensorFlow peer was not timed, when it was not. */
  readonly peerSkipped: string | null | undefined;
}

/** The table's rows for the bench's JSON result. */
export function resultRows(result: Readonly<Record<string, unknown>>, context: TableContext): Row[] {
  const rows: Row[] = [
    ['overhead1', 'distributed (1 worker) / in-process run, B=128 K=4', fixed(result.overhead1)],
    ['scaling2_b128', 'throughput 2 workers / 1 worker, B=128 K=2', fixed(result.scaling2_b128)],
    ['scaling2_b512', 'throughput 2 workers / 1 worker, B=512 K=2', fixed(result.scaling2_b512)],
    ['scaling2_b128_k4', 'throughput 2 workers / 1 worker, B=128 K=4', fixed(result.scaling2_b128_k4)],
    ...(typeof result.scaling2_b512_k8 === 'number'
      ? [['scaling2_b512_k8', 'throughput 2 workers / 1 worker, B=512 K=8', fixed(result.scaling2_b512_k8)] as Row]
      : []),
    ['cpuCeiling2_b128', `most scaling2_b128 can be: 1-worker step / (2-worker CPU per step / ${context.cores} cores)`, fixed(result.cpuCeiling2_b128)],
    ['cpuCeiling2_b512', 'the same at B=512', fixed(result.cpuCeiling2_b512)],
    ['computeCeiling2_b128', "most scaling2_b128 can be: workers' compute alone, 1 process at B / 2 at B/2 together", fixed(result.computeCeiling2_b128)],
    ['computeCeiling2_b512', 'the same at B=512', fixed(result.computeCeiling2_b512)],
    ['relayCeiling2_b128', 'most scaling2_b128 can be: the runs with no fold, no Adam, no probe on the coordinator', fixed(result.relayCeiling2_b128)],
    ['relayCeiling2_b512', 'the same at B=512', fixed(result.relayCeiling2_b512)],
    ['busy2_b128', `CPU used / (${context.cores} cores x step time), 2 workers, B=128`, fixed(result.busy2_b128)],
    ['busy2_b512', 'the same at B=512', fixed(result.busy2_b512)],
    ['wireRatio', 'bytes per step / minimum, K=2 with 2 workers, snapshots over the sockets', fixed(result.wireRatio)],
    ['wireRatio_k4', 'the same at K=4', fixed(result.wireRatio_k4)],
    ['sharedVsSocket_b128', '2-worker step, snapshots from the shared folder / over the sockets, B=128 K=2', fixed(result.sharedVsSocket_b128)],
    ['stepVsNaive', 'in-process step / naive tfjs step, B=128', fixed(result.stepVsNaive)],
    ['verifyOverhead', 'step with --verify 0.1 / without, 2 workers, B=128 K=2', fixed(result.verifyOverhead)],
    [
      'vsPeer_b128',
      'slower of in-process (K=1) and 2 workers (K=2) / TensorFlow graph-mode step, B=128',
      fixed(result.vsPeer_b128, `skipped: ${context.peerSkipped ?? ''}`),
    ],
    ['vsPeer_b512', 'the same at B=512', fixed(result.vsPeer_b512, 'skipped')],
    ['relayVsPeer_b128', "2-worker step's time not computing (K=2) / TensorFlow graph-mode step, B=128", fixed(result.relayVsPeer_b128, 'skipped')],
    ['graphVsEager', 'one D + one G task as a TensorFlow graph / as eager ops, B=128 (node only)', fixed(result.graphVsEager, 'not node')],
    ['tensorGrowth', `tensors after ${context.memorySteps} steps - before`, String(result.tensorGrowth)],
    ['rssGrowthMB', `RSS growth over ${context.memorySteps} steps`, fixed(result.rssGrowthMB, '-', 1)],
  ];
  return rows;
}

/** Prints `rows` with columns as wide as their longest entry plus two spaces, so no name runs into its description. */
export function printTable(rows: readonly Row[]): void {
  const nameWidth = Math.max(...rows.map(([k]) => k.length)) + 2;
  const whatWidth = Math.max(...rows.map(([, what]) => what.length)) + 2;
  process.stdout.write(`\n${'metric'.padEnd(nameWidth)}${'what'.padEnd(whatWidth)}value\n`);
  for (const [k, what, v] of rows) process.stdout.write(`${k.padEnd(nameWidth)}${what.padEnd(whatWidth)}${v}\n`);
}
