import { initialSnapshot, parameterCount, parameterSpec, snapshotSha256 } from '@distgan/models';
import { Adam, type AdamState } from '@distgan/optim';
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
}

/**
 * The coordinator's master copy: weights and Adam state of both networks. A network's snapshot
 * version is its Adam step count, so versions never need storing separately.
 */
export class TrainingState {
  nextStep: number;
  readonly dWeights: Float32Array;
  readonly gWeights: Float32Array;
  private readonly dAdam: Adam;
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
      this.dWeights = Float32Array.from(data.dWeights);
      this.gWeights = Float32Array.from(data.gWeights);
      this.dAdam = new Adam(dSize, config.dAdam, data.dAdam);
      this.gAdam = new Adam(gSize, config.gAdam, data.gAdam);
    } else {
      this.nextStep = 0;
      this.dWeights = initialSnapshot(parameterSpec(config.model.discriminator), config.model.initializer, [config.seed, 'init', 'D']);
      this.gWeights = initialSnapshot(parameterSpec(config.model.generator), config.model.initializer, [config.seed, 'init', 'G']);
      this.dAdam = new Adam(dSize, config.dAdam);
      this.gAdam = new Adam(gSize, config.gAdam);
    }
  }

  weights(name: NetworkName): Float32Array {
    return name === 'D' ? this.dWeights : this.gWeights;
  }

  version(name: NetworkName): number {
    return name === 'D' ? this.dAdam.step : this.gAdam.step;
  }

  /** One Adam step on `name` with the gradient `gradientSum / batchSize` (the batch mean). */
  apply(name: NetworkName, gradientSum: ArrayLike<number>, batchSize = 1): void {
    if (name === 'D') this.dAdam.apply(this.dWeights, gradientSum, batchSize);
    else this.gAdam.apply(this.gWeights, gradientSum, batchSize);
  }

  data(): TrainingStateData {
    return { nextStep: this.nextStep, dWeights: Float32Array.from(this.dWeights), gWeights: Float32Array.from(this.gWeights), dAdam: this.dAdam.state(), gAdam: this.gAdam.state() };
  }

  /** SHA-256 of D's then G's snapshot bytes: the run's identity for determinism checks. */
  hashes(): { weightsSha256: string; dSha256: string; gSha256: string } {
    return { weightsSha256: snapshotSha256(this.dWeights, this.gWeights), dSha256: snapshotSha256(this.dWeights), gSha256: snapshotSha256(this.gWeights) };
  }
}
