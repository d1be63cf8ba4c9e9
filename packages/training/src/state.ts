import { initialSnapshot, parameterCount, parameterSpec, snapshotSha256 } from '@distgan/models';
import { Adam, type AdamState } from '@distgan/optim';
import { ShardOrderedSum } from './accumulate.js';
import type { NetworkName } from './networks.js';
import type { RunConfig } from './run-config.js';

/** What a checkpoint holds: enough to continue bit-identically. */
export interface TrainingStateData {
  /** The next step to run (= steps completed). */
  readonly nextStep: number;
  readonly dWeights: Float32Array;
  readonly gWeights: Float32Array;
  readonly dAdam: AdamState;
  readonly gAdam: AdamState;
  /** The moving average of G's weights, when the config keeps one. */
  readonly gEma: Float32Array | null;
  /**
   * Set when the state stopped between the two phases of step `nextStep` (D's Adam step taken,
   * G's not): the D phase's statistics, so that the step's metrics line is whole when the run
   * goes on with its G phase. Whether D is a step ahead is read off the Adam step counts.
   */
  readonly dPhase?: { readonly loss: number; readonly dReal: number; readonly dFake: number };
}

/**
 * The average's decay after `updates` G steps: TensorFlow's ExponentialMovingAverage with
 * num_updates, min(decay, (1 + t) / (10 + t)), so early steps are not swamped by the initial weights.
 * `warmup` replaces the 10: the average's horizon is then about t / (warmup - 1) steps instead of
 * t / 9 while the warm-up term is below `decay` (`npm run sweep -- --decays 0.9999/3`).
 */
export function emaDecayAt(decay: number, updates: number, warmup = 10): number {
  return Math.min(decay, (1 + updates) / (warmup + updates));
}

/** The weights kept in the array `adam` updates in place (its SIMD kernel's memory), set to `initial`. */
function adopt(adam: Adam, initial: Float32Array): Float32Array {
  adam.weightBuffer.set(initial);
  return adam.weightBuffer;
}

/**
 * The coordinator's master copy: weights and Adam state of both networks. A network's snapshot
 * version is its Adam step count, so versions never need storing separately.
 */
export class TrainingState {
  nextStep: number;
  /** The D phase's statistics while the state is between the phases of step `nextStep` (see `TrainingStateData.dPhase`). */
  dPhase: TrainingStateData['dPhase'];
  readonly dWeights: Float32Array;
  readonly gWeights: Float32Array;
  private readonly ema: Float32Array | null;
  /** Whether the last G step is not yet folded into `ema` (see `updateAverage`). */
  private emaPending = false;
  private readonly dAdam: Adam;
  private readonly sums: Partial<Record<NetworkName, ShardOrderedSum>> = {};
  private readonly gAdam: Adam;

  constructor(
    readonly config: RunConfig,
    data?: TrainingStateData,
  ) {
    const dSize = parameterCount(parameterSpec(config.model.discriminator));
    const gSize = parameterCount(parameterSpec(config.model.generator));
    if (data) {
      if (data.dWeights.length !== dSize || data.gWeights.length !== gSize) {
        throw new Error(`state holds D ${data.dWeights.length} / G ${data.gWeights.length} weights, the config needs ${dSize} / ${gSize}`);
      }
      this.nextStep = data.nextStep;
      this.dAdam = new Adam(dSize, config.dAdam, data.dAdam);
      this.gAdam = new Adam(gSize, config.gAdam, data.gAdam);
      this.dPhase = data.dPhase;
      this.dWeights = adopt(this.dAdam, data.dWeights);
      this.gWeights = adopt(this.gAdam, data.gWeights);
      if ((config.gEmaDecay === null) !== (data.gEma === null)) {
        throw new Error(`state ${data.gEma ? 'holds' : 'lacks'} a G moving average but the config ${config.gEmaDecay === null ? 'keeps none' : 'keeps one'}`);
      }
      if (data.gEma && data.gEma.length !== gSize) throw new Error(`state's G moving average holds ${data.gEma.length} weights, the config needs ${gSize}`);
      this.ema = data.gEma ? Float32Array.from(data.gEma) : null;
      // Stopped between the phases of a step, D has taken one Adam step more than G, and the
      // state holds the D phase's statistics; the one goes with the other.
      if ((this.dAdam.step - this.gAdam.step === 1) !== (data.dPhase !== undefined)) {
        throw new Error(`state holds Adam steps D ${this.dAdam.step} / G ${this.gAdam.step}${data.dPhase ? ' with' : ' without'} a D phase's statistics`);
      }
    } else {
      this.nextStep = 0;
      this.dAdam = new Adam(dSize, config.dAdam);
      this.gAdam = new Adam(gSize, config.gAdam);
      this.dWeights = adopt(this.dAdam, initialSnapshot(parameterSpec(config.model.discriminator), config.model.initializer, [config.seed, 'init', 'D']));
      this.gWeights = adopt(this.gAdam, initialSnapshot(parameterSpec(config.model.generator), config.model.initializer, [config.seed, 'init', 'G']));
      this.ema = config.gEmaDecay === null ? null : Float32Array.from(this.gWeights);
    }
  }

  weights(name: NetworkName): Float32Array {
    return name === 'D' ? this.dWeights : this.gWeights;
  }

  /**
   * Where to sum `name`'s shard gradients: an array `apply` reads in place (Adam's own, see
   * `Adam.gradientBuffer`), so the step between phases copies nothing.
   */
  gradientBuffer(name: NetworkName): Float64Array {
    return name === 'D' ? this.dAdam.gradientBuffer : this.gAdam.gradientBuffer;
  }

  /**
   * `name`'s shard-ordered gradient sum, emptied for a new phase: one per network, kept for the
   * state's life (its sizes and K never change) and summing into `gradientBuffer`, so a training
   * loop allocates no megabyte-sized accumulator per phase.
   */
  gradientSum(name: NetworkName): ShardOrderedSum {
    this.sums[name] ??= new ShardOrderedSum(this.weights(name).length, this.config.shards, this.gradientBuffer(name));
    const sum = this.sums[name];
    sum.reset();
    return sum;
  }

  version(name: NetworkName): number {
    return name === 'D' ? this.dAdam.step : this.gAdam.step;
  }

  /** One Adam step on `name` with the gradient `gradientSum / batchSize` (the batch mean). */
  apply(name: NetworkName, gradientSum: ArrayLike<number>, batchSize = 1): void {
    if (name === 'D') {
      this.dAdam.apply(this.dWeights, gradientSum, batchSize);
      return;
    }
    this.updateAverage(); // the previous G step's, if nobody asked for it yet
    this.gAdam.apply(this.gWeights, gradientSum, batchSize);
    this.emaPending = this.ema !== null;
  }

  /**
   * Folds the last G step into G's moving average. Nothing waits for the average, so trainStep
   * calls this while workers compute the next phase rather than between phases; every reader of
   * the average calls it first.
   */
  updateAverage(): void {
    const ema = this.ema;
    if (!this.emaPending || ema === null || this.config.gEmaDecay === null) return;
    this.emaPending = false;
    const decay = emaDecayAt(this.config.gEmaDecay, this.gAdam.step);
    const keep = 1 - decay;
    const w = this.gWeights;
    // float64 arithmetic rounded to float32 on store: the same bits on every machine. Four values
    // per iteration run about 40% faster in V8 (see ShardOrderedSum) with each value's arithmetic unchanged.
    const n = ema.length;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      ema[i] = decay * ema[i]! + keep * w[i]!;
      ema[i + 1] = decay * ema[i + 1]! + keep * w[i + 1]!;
      ema[i + 2] = decay * ema[i + 2]! + keep * w[i + 2]!;
      ema[i + 3] = decay * ema[i + 3]! + keep * w[i + 3]!;
    }
    for (; i < n; i++) ema[i] = decay * ema[i]! + keep * w[i]!;
  }

  /** Moving average of gWeights (config.gEmaDecay), or null. */
  get gEma(): Float32Array | null {
    this.updateAverage();
    return this.ema;
  }

  /** The generator weights to draw samples with: the moving average when kept, else G. */
  sampleWeights(): Float32Array {
    return this.gEma ?? this.gWeights;
  }

  /**
   * Returns this state to `data` (one `data()` returned earlier, or a checkpoint of the same run):
   * weights, Adam states, average, step, in place, so arrays others hold (Adam's buffers) stay valid.
   */
  restore(data: TrainingStateData): void {
    const fresh = new TrainingState(this.config, data); // validates sizes and step counts
    this.dWeights.set(fresh.dWeights);
    this.gWeights.set(fresh.gWeights);
    this.dAdam.restore(fresh.dAdam.state());
    this.gAdam.restore(fresh.gAdam.state());
    if (this.ema && fresh.ema) this.ema.set(fresh.ema);
    this.emaPending = false;
    this.nextStep = data.nextStep;
    this.dPhase = data.dPhase;
  }

  data(): TrainingStateData {
    return {
      nextStep: this.nextStep,
      dWeights: Float32Array.from(this.dWeights),
      gWeights: Float32Array.from(this.gWeights),
      dAdam: this.dAdam.state(),
      gAdam: this.gAdam.state(),
      gEma: this.gEma ? Float32Array.from(this.gEma) : null,
      ...(this.dPhase ? { dPhase: this.dPhase } : {}),
    };
  }

  /** SHA-256 of D's, G's (and G's average's) bytes: the run's identity for determinism checks. */
  hashes(): { weightsSha256: string; dSha256: string; gSha256: string; gEmaSha256: string | null } {
    const all = this.gEma ? [this.dWeights, this.gWeights, this.gEma] : [this.dWeights, this.gWeights];
    return {
      weightsSha256: snapshotSha256(...all),
      dSha256: snapshotSha256(this.dWeights),
      gSha256: snapshotSha256(this.gWeights),
      gEmaSha256: this.gEma ? snapshotSha256(this.gEma) : null,
    };
  }
}
