import { parameterSpec, type Activation, type DenseLayer, type GanModelConfig, type NetworkConfig } from '@distgan/models';
import type { GanObjective } from '@distgan/losses';
import { GraphBuilder } from './graph-builder.js';
import type { GraphSignature, NodeDef, SignatureTensor } from './graph-def.js';

/**
 * What a shard graph computes, each the gradient of a sum of loss terms over the shard's rows:
 * `discriminator` a D task (real and fake terms), `discriminatorReal` and `discriminatorFake`
 * its two shares when a worker computes the real one ahead, `generator` a G task.
 */
export type ShardGraphKind = 'discriminator' | 'discriminatorReal' | 'discriminatorFake' | 'generator';
export const SHARD_GRAPH_KINDS: readonly ShardGraphKind[] = ['discriminator', 'discriminatorReal', 'discriminatorFake', 'generator'];

export interface ShardGraphOptions {
  /** Absent: cross-entropy. */
  readonly objective?: GanObjective;
  /** The real images' target in D's loss. */
  readonly realLabel: number;
}

/**
 * A compiled shard: its nodes and its signature. Inputs are keyed `D/<param>` and `G/<param>`
 * (the parameters in snapshot order and shape), `images` and `noise` ([rows, width], any number
 * of rows) and, for a class-conditional model, `realCode` and `fakeCode` (the rows' one-hot
 * classes as floats). Outputs: `gradient`, flat in the trained network's snapshot order, and
 * `stats`, [loss sum, score sum] per term (a D task: real then fake).
 */
export interface ShardGraph {
  readonly kind: ShardGraphKind;
  /** The network whose gradient the graph computes. */
  readonly network: 'D' | 'G';
  readonly nodes: readonly NodeDef[];
  readonly signature: GraphSignature;
}

/** The model or loss uses something the compiler does not emit; the message says what. */
export class UnsupportedShardGraphError extends Error {
  override readonly name = 'UnsupportedShardGraphError';
}

const COMPILED_ACTIVATIONS: readonly Activation[] = ['linear', 'tanh', 'sigmoid', 'leakyRelu'];

function unsupportedInNetwork(name: string, net: NetworkConfig): string | null {
  for (const [i, layer] of net.layers.entries()) {
    const kind = layer.kind ?? 'dense';
    if (kind !== 'dense') return `${name} has a ${kind} layer (layer ${i + 1}); only dense layers are compiled`;
    const activation = (layer as DenseLayer).activation;
    if (!COMPILED_ACTIVATIONS.includes(activation)) return `${name} uses ${activation} (layer ${i + 1}); compiled: ${COMPILED_ACTIVATIONS.join(', ')}`;
  }
  if (net.projection) return `${name} is a projection discriminator`;
  if (net.dropout !== undefined) return `${name} uses dropout`;
  return null;
}

/** Why `model` trained with `objective` has no shard graph (null: it has one for every kind). */
export function shardGraphUnsupportedReason(model: GanModelConfig, objective: GanObjective = 'crossEntropy'): string | null {
  if (objective !== 'crossEntropy') return `the ${objective} objective is not compiled (only crossEntropy)`;
  return unsupportedInNetwork('G', model.generator) ?? unsupportedInNetwork('D', model.discriminator);
}

/** One dense layer of a forward pass: what its backward pass reads. */
interface DenseStep {
  readonly layer: DenseLayer;
  readonly input: string;
  readonly weights: string;
  /** x @ w + b. */
  readonly preActivation: string;
  readonly output: string;
}

/**
 * Emits the shard graph's ops. Each op is the one tfjs-node runs eagerly for the same arithmetic
 * (matMul as BatchMatMulV2 with adjoint flags, the bias as an add, its gradient as a sum over
 * rows, tfjs's own activation gradients), so the graph's gradient has the eager path's bits.
 * Ops TensorFlow computes differently in a graph (MatMul with transpose_b: bits depend on the
 * thread count; BiasAdd and BiasAddGrad: other bits) are not used.
 */
class ShardGraphEmitter {
  readonly g = new GraphBuilder();
  private readonly inputs: SignatureTensor[] = [];
  private readonly weights: Record<'D' | 'G', string[]> = { D: [], G: [] };

  constructor(private readonly model: GanModelConfig) {}

  /** The graph input `key`, made at its first use. */
  private input(key: string, shape: readonly number[]): string {
    const made = this.inputs.find((input) => input.key === key);
    if (made) return made.tensor.slice(0, -':0'.length);
    const name = this.g.placeholder(key, 'float32', shape);
    this.inputs.push({ key, tensor: `${name}:0`, dtype: 'float32', shape });
    return name;
  }

  /** The network's parameters as graph inputs, once per graph. */
  private parameters(network: 'D' | 'G'): string[] {
    if (this.weights[network].length === 0) {
      const config = network === 'D' ? this.model.discriminator : this.model.generator;
      this.weights[network] = parameterSpec(config).map((p) => this.input(`${network}/${p.name}`, p.shape));
    }
    return this.weights[network];
  }

  /** The rows of `key` ([rows, width]) with the one-hot class code `codeKey` appended for a conditional model. */
  private rows(key: string, width: number, codeKey: string): string {
    const x = this.input(key, [-1, width]);
    const classes = this.model.classes;
    return classes === undefined ? x : this.g.concat([x, this.input(codeKey, [-1, classes])], 1);
  }

  private activate(x: string, activation: Activation): string {
    switch (activation) {
      case 'linear':
        return x;
      case 'tanh':
      case 'sigmoid':
        return this.g.unary(activation === 'tanh' ? 'Tanh' : 'Sigmoid', x);
      case 'leakyRelu':
        return this.g.leakyRelu(x, this.model.leakyReluAlpha);
      case 'relu':
        throw new UnsupportedShardGraphError('relu is not compiled');
      default: {
        const unknown: never = activation;
        throw new UnsupportedShardGraphError(`unknown activation ${String(unknown)}`);
      }
    }
  }

  /** tfjs's gradient of `activation` at `step`, given the gradient of its output. */
  private activationGradient(step: DenseStep, dy: string): string {
    const g = this.g;
    switch (step.layer.activation) {
      case 'linear':
        return dy;
      case 'tanh': // (1 - y^2) * dy
        return g.mul(g.sub(g.scalar(1), g.unary('Square', step.output)), dy);
      case 'sigmoid': // dy * (y * (1 - y))
        return g.mul(dy, g.mul(step.output, g.sub(g.scalar(1), step.output)));
      case 'leakyRelu': // x > 0 ? dy : dy * alpha
        return g.select(g.greater(step.preActivation, g.scalar(0)), dy, g.mul(dy, g.scalar(this.model.leakyReluAlpha)));
      case 'relu':
        throw new UnsupportedShardGraphError('relu is not compiled');
      default: {
        const unknown: never = step.layer.activation;
        throw new UnsupportedShardGraphError(`unknown activation ${String(unknown)}`);
      }
    }
  }

  forward(network: 'D' | 'G', input: string): DenseStep[] {
    const config = network === 'D' ? this.model.discriminator : this.model.generator;
    const params = this.parameters(network);
    const steps: DenseStep[] = [];
    let x = input;
    config.layers.forEach((layer, i) => {
      const dense = layer as DenseLayer;
      const weights = params[2 * i]!;
      const preActivation = this.g.add(this.g.matMul(x, weights), params[2 * i + 1]!);
      const output = this.activate(preActivation, dense.activation);
      steps.push({ layer: dense, input: x, weights, preActivation, output });
      x = output;
    });
    return steps;
  }

  /**
   * Back through `steps` from the gradient of the last output: the weights' gradients (in
   * parameter order) when `weightGradients`, and the input's when `inputGradient`.
   */
  backward(steps: readonly DenseStep[], dOutput: string, want: { weightGradients: boolean; inputGradient: boolean }): { grads: string[]; dInput?: string } {
    const grads: string[] = [];
    let dy = dOutput;
    for (let i = steps.length - 1; i >= 0; i--) {
      const step = steps[i]!;
      const dPre = this.activationGradient(step, dy);
      if (want.weightGradients) grads.unshift(this.g.matMul(step.input, dPre, true, false), this.g.sum(dPre, [0]));
      if (i > 0 || want.inputGradient) dy = this.g.matMul(dPre, step.weights, false, true);
    }
    return want.inputGradient ? { grads, dInput: dy } : { grads };
  }

  /** A cross-entropy term on D's logits: its per-row gradient (closed form, as tfjs-node's) and [loss sum, score sum]. */
  lossTerm(logits: string, label: number): { dLogits: string; stats: [string, string] } {
    const g = this.g;
    // sum(softplus(x) - x z) and sum(sigmoid(x)); d/dx = sigmoid(x) - z (the loss's seed gradient is exactly 1).
    const loss = g.sum(g.sub(g.unary('Softplus', logits), g.mul(logits, g.scalar(label))), [0, 1]);
    const score = g.unary('Sigmoid', logits);
    return { dLogits: g.sub(score, g.scalar(label)), stats: [loss, g.sum(score, [0, 1])] };
  }

  finish(kind: ShardGraphKind, network: 'D' | 'G', grads: readonly string[], stats: readonly string[]): ShardGraph {
    const gradient = this.g.identity(
      this.g.concat(
        grads.map((grad) => this.g.reshape(grad, [-1])),
        0,
      ),
      'gradient',
    );
    const statistics = this.g.identity(this.g.pack(stats), 'stats');
    const size = parameterSpec(network === 'D' ? this.model.discriminator : this.model.generator).reduce((n, p) => n + p.size, 0);
    return {
      kind,
      network,
      nodes: this.g.nodes,
      signature: {
        inputs: this.inputs,
        outputs: [
          { key: 'gradient', tensor: `${gradient}:0`, dtype: 'float32', shape: [size] },
          { key: 'stats', tensor: `${statistics}:0`, dtype: 'float32', shape: [stats.length] },
        ],
      },
    };
  }

  /** The task's real images as D's input (class code appended). */
  realRows(): string {
    return this.rows('images', this.imageWidth(), 'realCode');
  }

  imageWidth(): number {
    return this.model.discriminator.inputSize - (this.model.classes ?? 0);
  }

  /** G(z) for the task's noise rows, as D's input (class code appended). */
  fakes(): { dInput: string; gSteps: DenseStep[] } {
    const gSteps = this.forward('G', this.rows('noise', this.model.noise.size, 'fakeCode'));
    const out = outputOf(gSteps);
    const classes = this.model.classes;
    return { dInput: classes === undefined ? out : this.g.concat([out, this.input('fakeCode', [-1, classes])], 1), gSteps };
  }
}

/** A network's output: its last step's (a network has at least one layer, `validateModel`). */
function outputOf(steps: readonly DenseStep[]): string {
  const last = steps.at(-1);
  if (!last) throw new Error('a network without layers has no output');
  return last.output;
}

/**
 * The TensorFlow graph of one kind of shard task for `model`: forward pass, summed loss and
 * gradient. Throws `UnsupportedShardGraphError` for what `shardGraphUnsupportedReason` names.
 */
export function compileShardGraph(model: GanModelConfig, kind: ShardGraphKind, options: ShardGraphOptions): ShardGraph {
  const reason = shardGraphUnsupportedReason(model, options.objective);
  if (reason !== null) throw new UnsupportedShardGraphError(reason);
  const e = new ShardGraphEmitter(model);
  const weightsOnly = { weightGradients: true, inputGradient: false };
  if (kind === 'generator') {
    const { dInput, gSteps } = e.fakes();
    const dSteps = e.forward('D', dInput);
    const term = e.lossTerm(outputOf(dSteps), 1);
    const { dInput: dFakes } = e.backward(dSteps, term.dLogits, { weightGradients: false, inputGradient: true });
    if (dFakes === undefined) throw new Error('the backward pass asked for its input gradient gave none');
    const dImages = model.classes === undefined ? dFakes : e.g.slice(dFakes, [0, 0], [-1, e.imageWidth()]);
    return e.finish(kind, 'G', e.backward(gSteps, dImages, weightsOnly).grads, term.stats);
  }
  const terms: { grads: string[]; stats: [string, string] }[] = [];
  const term = (dInput: string, label: number) => {
    const steps = e.forward('D', dInput);
    const { dLogits, stats } = e.lossTerm(outputOf(steps), label);
    terms.push({ grads: e.backward(steps, dLogits, weightsOnly).grads, stats });
  };
  if (kind !== 'discriminatorFake') term(e.realRows(), options.realLabel);
  if (kind !== 'discriminatorReal') term(e.fakes().dInput, 0);
  // A weight used by both terms: the float32 sum of its two gradients, as autodiff adds them.
  const grads = terms.length === 1 ? terms[0]!.grads : terms[0]!.grads.map((real, i) => e.g.add(real, terms[1]!.grads[i]!));
  return e.finish(
    kind,
    'D',
    grads,
    terms.flatMap((t) => t.stats),
  );
}
