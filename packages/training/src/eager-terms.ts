import * as tf from '@tensorflow/tfjs';
import { discriminatorLossTerm, discriminatorScore, generatorLoss } from '@distgan/losses';
import { withClassCode, type Network } from '@distgan/models';
import type { DropoutPass } from './batch.js';
import type { ShardGradient } from './graph-shards.js';
import type { GanNetworks } from './networks.js';
import type { RunConfig } from './run-config.js';
import type { ShardTask } from './shard.js';
import type { ShardInputs } from './shard-inputs.js';

/** A loss term with its statistics: [the loss, the sum of D's scores of the rows]. */
type TermValue = { loss: tf.Scalar; stats: tf.Tensor1D };
/** Builds a term's inputs (off the gradient tape) and returns the function the tape records. */
type TermBuilder = () => () => TermValue;

/**
 * A task's gradient as eager tfjs ops, where no shard graph runs it (wasm, cpu, or graphs off):
 * each term is D's loss over rows whose input is made off the tape, so that the gradient reaches
 * only the network the phase trains.
 */
export class EagerTerms {
  constructor(
    private readonly config: RunConfig,
    private readonly networks: GanNetworks,
    private readonly inputs: ShardInputs,
  ) {}

  /** A D task's real images' share. */
  real(task: ShardTask): ShardGradient {
    return this.gradientOf(this.networks.d, this.realTerm(task));
  }

  /** A D task's fakes' share. */
  fake(task: ShardTask): ShardGradient {
    return this.gradientOf(this.networks.d, this.fakeTerm(task));
  }

  /** A G task's gradient. */
  generator(task: ShardTask): ShardGradient {
    const { networks, config } = this;
    const input = this.inputs.generatorInput(task);
    // D held fixed, only its input gradient, which flows into G (through D's dropout, as D trains).
    const onTape = (z: tf.Tensor2D) => withClassCode(config.model, networks.g.apply(z), input.classes);
    return this.gradientOf(
      networks.g,
      this.term(task, 'fake', input.z, onTape, 'input', (logits) => generatorLoss(logits, this.lossOptions)),
    );
  }

  /** A D task's gradient in one backward sweep over both terms; stats [real loss, real scores, fake loss, fake scores]. */
  both(task: ShardTask): ShardGradient {
    const real = this.realTerm(task);
    const fake = this.fakeTerm(task);
    return this.gradientOf(this.networks.d, () => {
      const realLoss = real();
      const fakeLoss = fake();
      return () => {
        const r = realLoss();
        const f = fakeLoss();
        return { loss: tf.add(r.loss, f.loss), stats: tf.concat([r.stats, f.stats]) as tf.Tensor1D };
      };
    });
  }

  private realTerm(task: ShardTask): TermBuilder {
    return this.term(
      task,
      'real',
      () => this.inputs.realInput(task),
      (x) => x,
      'weights',
      (logits) => discriminatorLossTerm(logits, 'real', this.lossOptions),
    );
  }

  /** G(z) is computed off the tape, so gradients flow to D only. */
  private fakeTerm(task: ShardTask): TermBuilder {
    const { networks, config } = this;
    const input = this.inputs.generatorInput(task);
    const fakes = () => withClassCode(config.model, networks.g.apply(input.z()), input.classes);
    return this.term(
      task,
      'fake',
      fakes,
      (x) => x,
      'weights',
      (logits) => discriminatorLossTerm(logits, 'fake', this.lossOptions),
    );
  }

  /**
   * D's loss over `input()` (made off the tape, then D's dropout masks of `pass`), passed through
   * `onTape` on the tape; `dMode` says which of D's gradients the tape keeps.
   */
  private term(
    task: ShardTask,
    pass: DropoutPass,
    input: () => tf.Tensor2D,
    onTape: (x: tf.Tensor2D) => tf.Tensor2D,
    dMode: 'weights' | 'input',
    loss: (logits: tf.Tensor) => tf.Scalar,
  ): TermBuilder {
    return () => {
      const x = input();
      const masks = this.inputs.dropoutMasks(task, pass);
      return () => {
        const logits = this.networks.d.apply(onTape(x), dMode, masks);
        const value = loss(logits);
        return { loss: value, stats: tf.stack([value, tf.sum(discriminatorScore(logits, this.config.objective))]) as tf.Tensor1D };
      };
    };
  }

  private get lossOptions() {
    return { reduction: 'sum', realLabel: this.config.realLabel, objective: this.config.objective } as const;
  }

  /**
   * Differentiates the loss function `build` returns with respect to `network`'s variables, all
   * inside one tidy (`build` makes the inputs, off the gradient tape): the gradient as one flat
   * tensor (the caller owns it; one download instead of one per parameter tensor) and the
   * statistics the loss function returns beside its loss.
   */
  private gradientOf(network: Network, build: TermBuilder): ShardGradient {
    let stats: tf.Tensor1D | undefined;
    const flat = tf.tidy(() => {
      const lossFn = build();
      const { grads } = tf.variableGrads(() => {
        const out = lossFn();
        stats = tf.keep(out.stats);
        return out.loss;
      }, network.variables as tf.Variable[]);
      return tf.concat(network.variables.map((v) => tf.reshape(grads[v.name]!, [-1]))) as tf.Tensor1D;
    });
    const kept = stats; // set on the tape, which ran before tidy returned
    if (!kept) throw new Error(`the loss of ${network.name} kept no statistics`);
    const values = kept.dataSync() as Float32Array;
    kept.dispose();
    return { gradient: flat, stats: values };
  }
}
