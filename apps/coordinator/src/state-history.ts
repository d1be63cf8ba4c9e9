import type { TrainingState, TrainingStateData } from '@distgan/training';

/**
 * Recent training states kept in memory for `--verify`: a copy at the start of every `every`-th
 * step, the newest `keep` of them (`keepFor` sizes that to a memory budget). Returning to step s
 * restores the newest copy at or before s, and the loop computes forward again from there, with
 * the same bits wherever no wrong result was involved.
 */
export class StateHistory {
  private readonly states: TrainingStateData[] = [];

  constructor(
    readonly every: number,
    readonly keep: number,
  ) {}

  /** How many copies of a state of `bytesPerState` fit `budgetBytes` (at least 2). */
  static keepFor(bytesPerState: number, budgetBytes: number): number {
    return Math.max(2, Math.floor(budgetBytes / Math.max(1, bytesPerState)));
  }

  /** Keeps a copy of `state` when a whole step `every` divides starts. */
  record(state: TrainingState): void {
    if (state.dPhase || state.nextStep % this.every !== 0 || this.states.at(-1)?.nextStep === state.nextStep) return;
    this.states.push(state.data());
    if (this.states.length > this.keep) this.states.shift();
  }

  /** The newest kept state at or before `step` (undefined: none that old is kept). */
  atOrBefore(step: number): TrainingStateData | undefined {
    return [...this.states].reverse().find((s) => s.nextStep <= step);
  }

  /** Forgets the states after `step`: the run went back, and they belong to what it undid. */
  dropAfter(step: number): void {
    while ((this.states.at(-1)?.nextStep ?? -1) > step) this.states.pop();
  }

  get oldestStep(): number | undefined {
    return this.states[0]?.nextStep;
  }
}
