/** One line of a DISTGAN_TRACE file (see `traceFromEnv` in @distgan/runtime). */
export interface TraceEvent {
  readonly t: number;
  readonly event: string;
  readonly [field: string]: number | string;
}

/** Where one phase's wall time went, in milliseconds. */
export interface PhaseBreakdown {
  readonly phase: string;
  readonly step: number;
  /** From the coordinator starting the phase to starting the next one. */
  readonly totalMs: number;
  /** Encoding and handing the snapshot and task frames to the sockets. */
  readonly dispatchMs: number;
  /** From the last frame handed over to the first worker starting to compute. */
  readonly toWorkersMs: number;
  /** The busiest worker's compute time (the phase cannot be shorter). */
  readonly computeMs: number;
  /**
   * The most any worker spent in the phase on the next phase's D tasks, handed out ahead: their
   * real images' share (`shareStart` to `shareEnd`), computed while waiting for G's snapshot.
   */
  readonly aheadMs: number;
  /** From the last compute ending to the coordinator having folded its result. */
  readonly resultBackMs: number;
  /** From the last result folded to the next phase starting: the optimizer step and bookkeeping. */
  readonly betweenPhasesMs: number;
  /** Garbage-collection pauses that started in the phase: the coordinator's, and the most of any worker's. */
  readonly coordinatorGcMs: number;
  readonly workerGcMs: number;
}

/** Sum of the `gc` events' durations among `events`. */
function gcMs(events: readonly TraceEvent[]): number {
  return events.reduce((sum, e) => sum + (e.event === 'gc' ? Number(e.ms) : 0), 0);
}

/**
 * Splits a run's trace (the coordinator's events and every worker's, merged) into phases, each
 * from one `phaseStart` to the next; the last phase, having no end, is left out.
 */
export function phaseBreakdowns(coordinator: readonly TraceEvent[], workers: readonly (readonly TraceEvent[])[]): PhaseBreakdown[] {
  const starts = coordinator.filter((e) => e.event === 'phaseStart');
  const out: PhaseBreakdown[] = [];
  for (let i = 0; i + 1 < starts.length; i++) {
    const from = starts[i]!.t;
    const to = starts[i + 1]!.t;
    const inPhase = (e: TraceEvent) => e.t >= from && e.t < to;
    const ours = coordinator.filter(inPhase);
    const dispatched = ours.find((e) => e.event === 'dispatched');
    const accepted = ours.filter((e) => e.event === 'accepted');
    let firstCompute = Infinity;
    let lastCompute = -Infinity;
    let busiest = 0;
    let ahead = 0;
    let workerGc = 0;
    for (const events of workers) {
      workerGc = Math.max(workerGc, gcMs(events.filter(inPhase)));
      let busy = 0;
      let sharing = 0;
      let startedAt: number | null = null;
      let shareStartedAt: number | null = null;
      for (const e of events.filter(inPhase)) {
        if (e.event === 'shareStart') shareStartedAt = e.t;
        else if (e.event === 'shareEnd' && shareStartedAt !== null) {
          sharing += e.t - shareStartedAt;
          shareStartedAt = null;
        }
        if (e.event === 'computeStart') {
          startedAt = e.t;
          firstCompute = Math.min(firstCompute, e.t);
        } else if (e.event === 'computeEnd' && startedAt !== null) {
          busy += e.t - startedAt;
          lastCompute = Math.max(lastCompute, e.t);
          startedAt = null;
        }
      }
      busiest = Math.max(busiest, busy);
      ahead = Math.max(ahead, sharing);
    }
    const lastAccepted = accepted.at(-1)?.t;
    if (!dispatched || lastAccepted === undefined || !Number.isFinite(firstCompute)) continue;
    out.push({
      phase: String(starts[i]!.phase),
      step: Number(starts[i]!.step),
      totalMs: to - from,
      dispatchMs: dispatched.t - from,
      toWorkersMs: firstCompute - dispatched.t,
      computeMs: busiest,
      aheadMs: ahead,
      resultBackMs: lastAccepted - lastCompute,
      betweenPhasesMs: to - lastAccepted,
      coordinatorGcMs: gcMs(ours),
      workerGcMs: workerGc,
    });
  }
  return out;
}
