import * as tf from '@tensorflow/tfjs';
import { imageSizeOf, valuesView, type GanModelConfig } from '@distgan/models';
import type { MnistDataset } from '@distgan/mnist';
import type { ResultMessage, TaskMessage } from '@distgan/protocol';
import { EagerTerms } from './eager-terms.js';
import { ShardGraphs, shardGraphsWanted, type ShardGradient, type ShardGraphCompiler, type ShardGraphKind } from './graph-shards.js';
import { GanNetworks } from './networks.js';
import type { RunConfig } from './run-config.js';
import { ShardInputs } from './shard-inputs.js';

/** One unit of work: the gradient of one logical shard of one phase of one step (the wire's `task`, defined there). */
export type ShardTask = Omit<TaskMessage, 'type'>;

/** Sums over the shard's rows; the coordinator divides by the batch size. */
export interface ShardStats {
  /** D phase: sum L(D(x),1) + sum L(D(G(z)),0). G phase: sum L(D(G(z)),1) (L: the objective's; cross-entropy by default). */
  readonly lossSum: number;
  /** Sum of D's score of real images (`discriminatorScore`: sigmoid(D(x)) for cross-entropy; D phase; 0 in G phase). */
  readonly dRealSum: number;
  /** Sum of D's score of fakes. */
  readonly dFakeSum: number;
}

/** A D task's real-image share of the gradient, computed ahead (see `ShardComputer.computeRealShare`). */
export interface RealShare {
  readonly step: number;
  readonly shard: number;
  /** The D snapshot it was computed at. */
  readonly dVersion: number;
  /**
   * Gradient of the real term's sum w.r.t. D, flat in snapshot order. Kept in the backend until
   * `compute` adds the fakes' share to it there and disposes it; whoever drops a share unused
   * disposes it.
   */
  readonly gradient: tf.Tensor1D;
  /** Sum of L(D(x), realLabel) over the real rows (a float32 value). */
  readonly lossSum: number;
  readonly dRealSum: number;
  readonly computeMs: number;
}

/** A shard's gradient and statistics: the wire's `result` without what only the wire needs (the worker process's CPU time). */
export type ShardResult = Omit<ResultMessage, 'type' | 'cpuMs'>;

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

export interface ShardComputerOptions {
  /**
   * Run each task as one TensorFlow graph (`ShardGraphs`); default: on tfjs-node unless
   * `DISTGAN_SHARD_GRAPHS=off`. Ignored on other backends.
   */
  readonly shardGraphs?: boolean;
  /** Where the one-line notices of the graph path go (default: stderr). */
  readonly log?: (line: string) => void;
  /** What compiles the graphs (default `compileShardGraph`); tests pass a broken one to see the self-check refuse it. */
  readonly compileGraph?: ShardGraphCompiler;
}

/** Calls `use` with the result, its gradient read in place (`valuesView`), then frees the gradient. */
function handOver<T>(gradient: tf.Tensor1D, result: Omit<ShardResult, 'gradient'>, use: (result: ShardResult) => T): T {
  try {
    return use({ ...result, gradient: valuesView(gradient) });
  } finally {
    gradient.dispose();
  }
}

/**
 * Computes shard gradients: the worker's whole job, also run in-process by the single-process
 * trainer and by tests. Holds G and D as variables; call `networks.load` when a snapshot arrives.
 */
export class ShardComputer {
  readonly networks: GanNetworks;
  private readonly inputs: ShardInputs;
  private readonly eager: EagerTerms;
  /** The graph path on tfjs-node (null: every task runs as eager ops). */
  readonly graphs: ShardGraphs | null;

  constructor(
    readonly config: RunConfig,
    readonly dataset: MnistDataset,
    options: ShardComputerOptions = {},
  ) {
    checkDatasetFits(config.model, dataset);
    this.networks = new GanNetworks(config.model);
    this.inputs = new ShardInputs(config, dataset);
    this.eager = new EagerTerms(config, this.networks, this.inputs);
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    this.graphs =
      (options.shardGraphs ?? true) && shardGraphsWanted()
        ? new ShardGraphs(config.model, { objective: config.objective, realLabel: config.realLabel }, this.networks, log, options.compileGraph)
        : null;
  }

  /** The gradient of a task of `kind`: by its graph where the graph path is on, else by `eager`. */
  private viaGraph(kind: ShardGraphKind, task: ShardTask, eager: () => ShardGradient): ShardGradient {
    if (!this.graphs) return eager();
    return this.graphs.gradient(kind, () => this.inputs.rowsOf(kind, task), eager);
  }

  /** Throws unless the snapshot versions `task` needs of `names` are the ones loaded. */
  private checkVersions(task: ShardTask, names: readonly ('D' | 'G')[]): void {
    for (const name of names) {
      const want = name === 'D' ? task.dVersion : task.gVersion;
      const held = this.networks.version(name);
      if (held !== want) throw new Error(`task ${task.step}/${task.phase}/${task.shard} needs ${name}@${want} but ${name}@${held} is loaded`);
    }
  }

  /**
   * The real images' share of a D task: the gradient of L(D(x), realLabel) over the shard's real
   * rows. It needs D's snapshot only, so a worker computes it before G's new snapshot arrives
   * (the coordinator sends the next step's D tasks during the G phase). `compute` adds the
   * fakes' share; the sum has the same bits as differentiating both terms together, since either
   * way each weight's gradient is the float32 sum of its two uses.
   */
  computeRealShare(task: ShardTask): RealShare {
    const started = performance.now();
    if (task.phase !== 'D') throw new Error(`task ${task.step}/${task.phase}/${task.shard}: only a D task has a real-image share`);
    this.checkVersions(task, ['D']);
    const { gradient, stats } = this.viaGraph('discriminatorReal', task, () => this.eager.real(task));
    return {
      step: task.step,
      shard: task.shard,
      dVersion: task.dVersion,
      gradient,
      lossSum: stats[0]!,
      dRealSum: stats[1]!,
      computeMs: performance.now() - started,
    };
  }

  /**
   * The task's gradient and statistics. For a D task, `realShare` (from `computeRealShare` for
   * this task) saves recomputing the real images' share; this call owns it from then on and
   * disposes it, whether it succeeds or throws.
   */
  compute(task: ShardTask, realShare?: RealShare): ShardResult {
    return this.computeWith(task, realShare, (result) => ({ ...result, gradient: result.gradient.slice() }));
  }

  /**
   * `compute`, handing the result to `use` with its gradient still in the backend's memory where
   * the backend allows (`valuesView`), which spares a worker a 2.2 MB download per result: `use`
   * must copy what it keeps (a worker encodes it into its frame) and must not call tfjs. Returns
   * what `use` returns.
   */
  computeWith<T>(task: ShardTask, realShare: RealShare | undefined, use: (result: ShardResult) => T): T {
    const started = performance.now();
    try {
      this.checkVersions(task, ['D', 'G']);
      if (realShare && (task.phase !== 'D' || realShare.step !== task.step || realShare.shard !== task.shard || realShare.dVersion !== task.dVersion)) {
        throw new Error(
          `real-image share of ${realShare.step}/D/${realShare.shard} at D@${realShare.dVersion} given for task ${task.step}/${task.phase}/${task.shard} at D@${task.dVersion}`,
        );
      }
    } catch (err) {
      realShare?.gradient.dispose();
      throw err;
    }
    if (task.phase === 'G') {
      const { gradient, stats } = this.viaGraph('generator', task, () => this.eager.generator(task));
      return handOver(
        gradient,
        { step: task.step, phase: task.phase, shard: task.shard, lossSum: stats[0]!, dRealSum: 0, dFakeSum: stats[1]!, computeMs: performance.now() - started },
        use,
      );
    }
    if (!realShare) return this.computeBothTerms(task, started, use);
    let gradient: tf.Tensor1D;
    let fakeStats: Float32Array;
    try {
      const fake = this.viaGraph('discriminatorFake', task, () => this.eager.fake(task));
      fakeStats = fake.stats;
      try {
        // float32 addition in the backend, as autodiff would have added the two uses of each weight.
        gradient = tf.add(realShare.gradient, fake.gradient);
      } finally {
        fake.gradient.dispose();
      }
    } finally {
      realShare.gradient.dispose();
    }
    return handOver(gradient, this.dFields(task, [realShare.lossSum, realShare.dRealSum], fakeStats, realShare.computeMs + performance.now() - started), use);
  }

  /**
   * A D task's gradient in one pass over both terms: one backward sweep and one flat gradient
   * instead of two and their sum, with the same bits (each weight's gradient is the float32 sum of
   * its two uses either way; tests compare the two paths).
   */
  private computeBothTerms<T>(task: ShardTask, started: number, use: (result: ShardResult) => T): T {
    const { gradient, stats } = this.viaGraph('discriminator', task, () => this.eager.both(task));
    return handOver(gradient, this.dFields(task, [stats[0]!, stats[1]!], stats.subarray(2), performance.now() - started), use);
  }

  /** A D result's fields from the real term's [loss sum, score sum] and the fakes' (float32 values). */
  private dFields(task: ShardTask, real: readonly [number, number], fake: Float32Array, computeMs: number): Omit<ShardResult, 'gradient'> {
    return {
      step: task.step,
      phase: task.phase,
      shard: task.shard,
      lossSum: Math.fround(real[0] + fake[0]!),
      dRealSum: real[1],
      dFakeSum: fake[1]!,
      computeMs,
    };
  }

  dispose(): void {
    this.graphs?.dispose();
    this.networks.dispose();
  }
}
