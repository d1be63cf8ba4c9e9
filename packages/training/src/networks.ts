import * as tf from '@tensorflow/tfjs';
import { generatorInput, Network, type GanModelConfig } from '@distgan/models';
import type { NetworkName } from '@distgan/protocol';

export type { NetworkName };

/** G and D as tf variables, plus the snapshot version each currently holds. */
export class GanNetworks {
  readonly g: Network;
  readonly d: Network;
  private readonly versions: Record<NetworkName, number> = { D: -1, G: -1 };

  constructor(readonly model: GanModelConfig) {
    this.g = new Network('G', model.generator, model.leakyReluAlpha);
    this.d = new Network('D', model.discriminator, model.leakyReluAlpha);
  }

  net(name: NetworkName): Network {
    return name === 'D' ? this.d : this.g;
  }

  version(name: NetworkName): number {
    return this.versions[name];
  }

  /** See `Network.load` for `handedOver`. */
  load(name: NetworkName, version: number, weights: Float32Array, handedOver = false): void {
    this.net(name).load(weights, handedOver);
    this.versions[name] = version;
  }

  /**
   * G(z) for `rows` noise vectors (for a conditional model, row i drawn for class i mod classes:
   * see `balancedClasses`); the caller owns the result.
   */
  generate(noise: Float32Array, rows: number): tf.Tensor2D {
    return tf.tidy(() => this.g.apply(generatorInput(this.model, noise, rows)));
  }

  dispose(): void {
    this.g.dispose();
    this.d.dispose();
  }
}
