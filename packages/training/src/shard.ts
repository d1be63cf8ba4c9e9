import * as tf from '@tensorflow/tfjs';
import { discriminatorLoss, discriminatorScore, generatorLoss } from '@distgan/losses';
import { dropoutWidths, fillDropoutMask, fillNoise, imageSizeOf, withClassCode, type GanModelConfig } from '@distgan/models';
import type { MnistDataset } from '@distgan/mnist';
import { dropoutStream, fakeClasses, noiseStream, type DropoutPass, type Phase } from './batch.js';
import { GanNetworks } from './networks.js';
import type { RunConfig } from './run-config.js';

/** One unit of work: the gradient of one logical shard of one phase of one step. */
export interface ShardTask {
  readonly step: number;
  readonly phase: Phase;
  readonly shard: number;
  /** Global batch position of the shard's first row; noise row i is keyed by position i. */
  readonly start: number;
  readonly count: number;
  /** Snapshot versions the gradient must be computed at. */
  readonly dVersion: number;
  readonly gVersion: number;
  /** Real image indices of the shard (D phase only). */
  readonly indices: Uint32Array | null;
}

/** Sums over the shard's rows; the coordinator divides by the batch size. */
export interface ShardStats {
  /** D phase: sum L(D(x),1) + sum L(D(G(z)),0). G phase: sum L(D(G(z)),1) (L: the objective's; cross-entropy by default). */
  readonly lossSum: number;
  /** Sum of D's score of real images (`discriminatorScore`: sigmoid(D(x)) for cross-entropy; D phase; 0 in G phase). */
  readonly dRealSum: number;
  /** Sum of D's score of fakes. */
  readonly dFakeSum: number;
}

export interface ShardResult extends ShardStats {
  readonly step: number;
  readonly phase: Phase;
  readonly shard: number;
  /** Gradient of the shard's loss sum w.r.t. the phase's network, in snapshot order. */
  readonly gradient: Float32Array;
  readonly computeMs: number;
}

/**
 * Throws a message saying how `dataset` does not fit `model`: images of another size than D
 * takes, or (for a class-conditional model) a label outside its classes. The coordinator checks
 * this at start, before any worker would fail on it.
 */
export function checkDatasetFits(model: GanModelConfig, dataset: MnistDataset): void {
  if (dataset.imageSize !== imageSizeOf(model)) {
    throw new Error(`${dataset.source}: images have ${dataset.imageSize} pixels but the discriminator expects ${imageSizeOf(model)}`);
  }
  const classes = model.classes;
  if (classes === undefined) return;
  const bad = dataset.labels.findIndex((label) => label >= classes);
  if (bad >= 0) throw new Error(`${dataset.source}: image ${bad} has label ${dataset.labels[bad]}, outside the model's ${classes} classes`);
}

/**
 * Computes shard gradients: the worker's whole job, also run in-process by the single-process
 * trainer and by tests. Holds G and D as variables; call `networks.load` when a snapshot arrives.
 */
export class ShardComputer {
  readonly networks: GanNetworks;
  private readonly imageBuffer: Float32Array;
  private readonly noiseBuffer: Float32Array;
  private readonly fakeClassBuffer: Int32Array;
  private readonly realClassBuffer: Int32Array;
  /** D's hidden widths and one mask buffer per hidden layer when D has dropout (both empty otherwise). */
  private readonly maskWidths: readonly number[];
  private readonly maskBuffers: Float32Array[];

  constructor(
    readonly config: RunConfig,
    readonly dataset: MnistDataset,
  ) {
    checkDatasetFits(config.model, dataset);
    this.networks = new GanNetworks(config.model);
    const maxRows = config.batchSize;
    this.imageBuffer = new Float32Array(maxRows * dataset.imageSize);
    this.noiseBuffer = new Float32Array(maxRows * config.model.noise.size);
    const classRows = config.model.classes === undefined ? 0 : maxRows;
    this.fakeClassBuffer = new Int32Array(classRows);
    this.realClassBuffer = new Int32Array(classRows);
    this.maskWidths = dropoutWidths(config.model.discriminator);
    this.maskBuffers = this.maskWidths.map((units) => new Float32Array(maxRows * units));
  }

  /** D's dropout masks for the task's rows of one pass (undefined: D has no dropout); call inside tf.tidy. */
  private dropoutMasks(task: ShardTask, pass: DropoutPass): tf.Tensor2D[] | undefined {
    const rate = this.config.model.discriminator.dropout;
    if (rate === undefined) return undefined;
    return this.maskWidths.map((units, layer) => {
      const stream = dropoutStream(this.config.seed, task.step, task.phase, pass, layer);
      return tf.tensor2d(fillDropoutMask(rate, stream, task.start, task.count, units, this.maskBuffers[layer]), [task.count, units]);
    });
  }

  /** Classes of the task's fake rows, and of its real rows in a D phase (null: unconditional). */
  private classesOf(task: ShardTask): { fake: Int32Array | null; real: Int32Array | null } {
    const classes = this.config.model.classes;
    if (classes === undefined) return { fake: null, real: null };
    const fake = fakeClasses(this.config.seed, task.step, task.phase, classes, task.start, task.count, this.fakeClassBuffer);
    if (!task.indices) return { fake, real: null };
    const real = this.realClassBuffer.subarray(0, task.indices.length);
    task.indices.forEach((index, r) => (real[r] = this.dataset.labels[index]!));
    return { fake, real };
  }

  compute(task: ShardTask): ShardResult {
    const started = performance.now();
    const { networks, config } = this;
    for (const name of ['D', 'G'] as const) {
      const want = name === 'D' ? task.dVersion : task.gVersion;
      if (networks.version(name) !== want) throw new Error(`task ${task.step}/${task.phase}/${task.shard} needs ${name}@${want} but ${name}@${networks.version(name)} is loaded`);
    }
    const rows = task.count;
    const noise = fillNoise(config.model.noise, noiseStream(config.seed, task.step, task.phase), task.start, rows, this.noiseBuffer).subarray(0, rows * config.model.noise.size);
    const target = task.phase === 'D' ? networks.d : networks.g;
    const classes = this.classesOf(task);
    const model = config.model;
    let stats: tf.Tensor1D | undefined;
    const gradient = tf.tidy(() => {
      const z = withClassCode(model, tf.tensor2d(noise, [rows, model.noise.size]), classes.fake);
      let lossFn: () => tf.Scalar;
      if (task.phase === 'D') {
        if (!task.indices || task.indices.length !== rows) throw new Error(`D task ${task.step}/${task.shard} needs ${rows} image indices`);
        const images = this.dataset.fillBatch(task.indices, this.imageBuffer, config.model.pixelRange).subarray(0, rows * this.dataset.imageSize);
        const x = withClassCode(model, tf.tensor2d(images, [rows, this.dataset.imageSize]), classes.real);
        const fake = withClassCode(model, networks.g.apply(z), classes.fake); // constant here: gradients flow to D only
        const realMasks = this.dropoutMasks(task, 'real');
        const fakeMasks = this.dropoutMasks(task, 'fake');
        lossFn = () => {
          const realLogits = networks.d.apply(x, 'weights', realMasks);
          const fakeLogits = networks.d.apply(fake, 'weights', fakeMasks);
          const loss = discriminatorLoss(realLogits, fakeLogits, { reduction: 'sum', realLabel: config.realLabel, objective: config.objective });
          stats = tf.keep(tf.stack([loss.total, tf.sum(discriminatorScore(realLogits, config.objective)), tf.sum(discriminatorScore(fakeLogits, config.objective))]) as tf.Tensor1D);
          return loss.total;
        };
      } else {
        const masks = this.dropoutMasks(task, 'fake');
        lossFn = () => {
          // D held fixed: only its input gradient, which flows into G (through D's dropout, as D trains).
          const fakeLogits = networks.d.apply(withClassCode(model, networks.g.apply(z), classes.fake), 'input', masks);
          const loss = generatorLoss(fakeLogits, { reduction: 'sum', objective: config.objective });
          stats = tf.keep(tf.stack([loss, tf.scalar(0), tf.sum(discriminatorScore(fakeLogits, config.objective))]) as tf.Tensor1D);
          return loss;
        };
      }
      const { grads } = tf.variableGrads(lossFn, target.variables as tf.Variable[]);
      // One concatenated download instead of one per parameter tensor.
      return tf.concat(target.variables.map((v) => tf.reshape(grads[v.name]!, [-1])));
    });
    const flat = gradient.dataSync() as Float32Array;
    gradient.dispose();
    const [lossSum = NaN, dRealSum = NaN, dFakeSum = NaN] = stats ? Array.from(stats.dataSync()) : [];
    stats?.dispose();
    return { step: task.step, phase: task.phase, shard: task.shard, gradient: flat, lossSum, dRealSum, dFakeSum, computeMs: performance.now() - started };
  }

  dispose(): void {
    this.networks.dispose();
  }
}
