import type * as tf from '@tensorflow/tfjs';
import { dropoutWidths, fillDropoutMask, fillNoise, tensorOfReusedMemory, withClassCode } from '@distgan/models';
import type { MnistDataset } from '@distgan/mnist';
import { dropoutStream, fakeClasses, noiseStream, type DropoutPass } from './batch.js';
import type { ShardGraphKind, ShardRows } from './graph-shards.js';
import type { RunConfig } from './run-config.js';
import type { ShardTask } from './shard.js';

/**
 * A task's inputs, rebuilt from the task alone (its rows of the batch, the run's seed and the
 * dataset), in buffers reused from task to task: the real images and their classes, the noise and
 * the fakes' classes, D's dropout masks. The same task gives the same inputs on every worker.
 */
export class ShardInputs {
  private readonly imageBuffer: Float32Array;
  private readonly noiseBuffer: Float32Array;
  private readonly fakeClassBuffer: Int32Array;
  private readonly realClassBuffer: Int32Array;
  /** D's hidden widths and one mask buffer per hidden layer when D has dropout (both empty otherwise). */
  private readonly maskWidths: readonly number[];
  private readonly maskBuffers: Float32Array[];

  constructor(
    private readonly config: RunConfig,
    private readonly dataset: MnistDataset,
  ) {
    const maxRows = config.batchSize;
    this.imageBuffer = new Float32Array(maxRows * dataset.imageSize);
    this.noiseBuffer = new Float32Array(maxRows * config.model.noise.size);
    const classRows = config.model.classes === undefined ? 0 : maxRows;
    this.fakeClassBuffer = new Int32Array(classRows);
    this.realClassBuffer = new Int32Array(classRows);
    this.maskWidths = dropoutWidths(config.model.discriminator);
    this.maskBuffers = this.maskWidths.map((units) => new Float32Array(maxRows * units));
  }

  /** A graph's per-task inputs. */
  rowsOf(kind: ShardGraphKind, task: ShardTask): ShardRows {
    const classes = this.classesOf(task);
    return {
      rows: task.count,
      images: kind === 'discriminator' || kind === 'discriminatorReal' ? this.imagesOf(task) : undefined,
      noise: kind === 'discriminatorReal' ? undefined : this.noiseOf(task),
      realClasses: classes.real,
      fakeClasses: classes.fake,
    };
  }

  /** The task's real images, [rows, image size], in the shared buffer. */
  imagesOf(task: ShardTask): Float32Array {
    const rows = task.count;
    if (!task.indices || task.indices.length !== rows) throw new Error(`D task ${task.step}/${task.shard} needs ${rows} image indices`);
    return this.dataset.fillBatch(task.indices, this.imageBuffer, this.config.model.pixelRange).subarray(0, rows * this.dataset.imageSize);
  }

  /** The task's real images as D's input (with their class code for a class-conditional model); call inside tf.tidy. */
  realInput(task: ShardTask): tf.Tensor2D {
    const images = tensorOfReusedMemory<tf.Rank.R2>(this.imagesOf(task), [task.count, this.dataset.imageSize]);
    return withClassCode(this.config.model, images, this.classesOf(task).real);
  }

  /** D's dropout masks for the task's rows of one pass (undefined: D has no dropout); call inside tf.tidy. */
  dropoutMasks(task: ShardTask, pass: DropoutPass): tf.Tensor2D[] | undefined {
    const rate = this.config.model.discriminator.dropout;
    if (rate === undefined) return undefined;
    return this.maskWidths.map((units, layer) => {
      const stream = dropoutStream(this.config.seed, task.step, task.phase, pass, layer);
      return tensorOfReusedMemory<tf.Rank.R2>(fillDropoutMask(rate, stream, task.start, task.count, units, this.maskBuffers[layer]), [task.count, units]);
    });
  }

  /** Classes of the task's fake rows, and of its real rows in a D phase (null: unconditional). */
  classesOf(task: ShardTask): { fake: Int32Array | null; real: Int32Array | null } {
    const classes = this.config.model.classes;
    if (classes === undefined) return { fake: null, real: null };
    const fake = fakeClasses(this.config.seed, task.step, task.phase, classes, task.start, task.count, this.fakeClassBuffer);
    if (!task.indices) return { fake, real: null };
    const real = this.realClassBuffer.subarray(0, task.indices.length);
    task.indices.forEach((index, r) => {
      real[r] = this.dataset.labels[index]!;
    });
    return { fake, real };
  }

  /** The task's noise rows, for G's input. */
  noiseOf(task: ShardTask): Float32Array {
    const noise = this.config.model.noise;
    return fillNoise(noise, noiseStream(this.config.seed, task.step, task.phase), task.start, task.count, this.noiseBuffer).subarray(
      0,
      task.count * noise.size,
    );
  }

  /** The task's noise rows and fake classes: `z()` makes G's input from them (inside a tidy). */
  generatorInput(task: ShardTask): { z: () => tf.Tensor2D; classes: Int32Array | null } {
    const model = this.config.model;
    const noise = this.noiseOf(task);
    const classes = this.classesOf(task).fake;
    return { z: () => withClassCode(model, tensorOfReusedMemory<tf.Rank.R2>(noise, [task.count, model.noise.size]), classes), classes };
  }
}
