import * as tf from '@tensorflow/tfjs';
import type { Activation, AvgPoolLayer, ConvLayer, DenseLayer, FlattenLayer, NetworkConfig, ReshapeLayer, UpsampleLayer } from './types.js';
import { convKernel, denseKernel, type GradientFlow } from './layer-kernels.js';
import { flattenTensors, tensorOfReusedMemory } from './tensor-memory.js';
import { layerShapes, parameterCount, parameterSpec, type ExampleShape, type ParamSpec } from './spec.js';

function activate<T extends tf.Tensor>(x: T, activation: Activation, leakyReluAlpha: number): T {
  switch (activation) {
    case 'linear':
      return x;
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'relu':
      return tf.relu(x);
    case 'leakyRelu':
      return tf.leakyRelu(x, leakyReluAlpha);
    default: {
      const unknown: never = activation;
      throw new Error(`unknown activation ${String(unknown)}`);
    }
  }
}

/**
 * A feed-forward network (dense, conv, reshape, upsample, pool and flatten layers) whose state is
 * one tf.Variable per parameter (named `<name>/<param>`), loaded from and saved to flat
 * Float32Array snapshots in `spec` order. Input and output are flat: [rows, features].
 */
export class Network {
  readonly spec: readonly ParamSpec[];
  readonly size: number;
  readonly variables: readonly tf.Variable[];
  private readonly shapes: readonly ExampleShape[];

  constructor(
    readonly name: string,
    readonly config: NetworkConfig,
    readonly leakyReluAlpha = 0.2,
  ) {
    this.spec = parameterSpec(config);
    this.shapes = layerShapes(config);
    this.size = parameterCount(this.spec);
    // Variable names are global in a tfjs engine; the id keeps several Networks with one name apart.
    const id = Network.nextId++;
    // tidy frees the zeros; variables survive tidy.
    this.variables = tf.tidy(() => this.spec.map((p) => tf.variable(tf.zeros(p.shape as number[]), true, `${name}_${id}/${p.name}`)));
  }

  private static nextId = 0;

  /**
   * Loads a flat snapshot into the variables. By default the caller may overwrite `snapshot` as
   * soon as this returns. `handedOver`: the caller gives the memory up (a frame just received)
   * and never writes it again, so backends that read typed arrays lazily (node, cpu) may keep it
   * instead of a copy: 2.2 MB less copied per seed snapshot.
   */
  load(snapshot: Float32Array, handedOver = false): void {
    if (snapshot.length !== this.size) throw new RangeError(`${this.name} snapshot has ${snapshot.length} floats, expected ${this.size}`);
    tf.tidy(() => {
      this.spec.forEach((p, i) => {
        const values = snapshot.subarray(p.offset, p.offset + p.size);
        this.variables[i]!.assign(handedOver ? tf.tensor(values, p.shape as number[]) : tensorOfReusedMemory(values, p.shape));
      });
    });
  }

  /** The variables as one flat snapshot. */
  snapshot(): Float32Array {
    return flattenTensors(this.variables, this.spec);
  }

  /**
   * Forward pass; call inside tf.tidy (or dispose the result). `flow` says which gradients a
   * backward pass needs: the weights' (the default), the input's too, the input's alone (D
   * applied to G's output in the G phase), or none (inference; a single row then multiplies
   * without packing the weights, see `inferenceDense` in layer-kernels.ts). `dropoutMasks` (training a network with `dropout`:
   * one [rows, units] mask per hidden layer, from `fillDropoutMask`) multiply the hidden outputs;
   * left out, the network runs without dropout, as at inference.
   */
  apply(input: tf.Tensor2D, flow: GradientFlow = 'weights', dropoutMasks?: readonly tf.Tensor2D[]): tf.Tensor2D {
    if (dropoutMasks && dropoutMasks.length !== this.config.layers.length - 1) {
      throw new Error(`${this.name} takes ${this.config.layers.length - 1} dropout masks, got ${dropoutMasks.length}`);
    }
    let h: tf.Tensor = input;
    let param = 0;
    const last = this.config.layers.length - 1;
    let hidden: tf.Tensor2D = input; // the last layer's input, which a projection embeds the class against
    this.config.layers.forEach((layer, i) => {
      if (i === last) hidden = h as tf.Tensor2D;
      if (layer.kind === 'reshape' || layer.kind === 'flatten' || layer.kind === 'upsample' || layer.kind === 'avgPool') {
        h = this.reshaped(layer, i, h, input.shape[0]);
        return;
      }
      // Until the first weighted layer, h is the input itself (maybe reshaped): its gradient is wanted only on request.
      h = this.weighted(layer, param, h, flow, param > 0 || flow !== 'weights');
      const mask = layer.kind !== 'conv' && i < last ? dropoutMasks?.[i] : undefined;
      if (mask) h = tf.mul(h, mask);
      param += 2;
    });
    const projection = this.config.projection;
    return projection ? this.projected(input, hidden, h as tf.Tensor2D, param, projection.classes) : (h as tf.Tensor2D);
  }

  /** A dense or conv layer with its weights at `param` and `param + 1`, then its activation. */
  private weighted(layer: DenseLayer | ConvLayer, param: number, h: tf.Tensor, flow: GradientFlow, needInputGradient: boolean): tf.Tensor {
    const [w, b] = [this.variables[param]!, this.variables[param + 1] as tf.Tensor1D];
    const out =
      layer.kind === 'conv'
        ? convKernel(flow, needInputGradient)(h as tf.Tensor4D, w as tf.Tensor4D, b)
        : denseKernel(flow, needInputGradient)(h as tf.Tensor2D, w as tf.Tensor2D, b);
    return activate(out, layer.activation, this.leakyReluAlpha);
  }

  /** A layer without weights: a new shape for the same values, or a resampling. */
  private reshaped(layer: ReshapeLayer | FlattenLayer | UpsampleLayer | AvgPoolLayer, i: number, h: tf.Tensor, rows: number): tf.Tensor {
    switch (layer.kind) {
      case 'reshape':
      case 'flatten':
        return tf.reshape(h, [rows, ...this.shapes[i]!]);
      case 'upsample': {
        const [height = 0, width = 0] = this.shapes[i] ?? [];
        return tf.image.resizeNearestNeighbor(h as tf.Tensor4D, [height, width]);
      }
      case 'avgPool':
        return tf.avgPool(h as tf.Tensor4D, 2, 2, 'valid');
      default: {
        const unknown: never = layer;
        throw new Error(`unknown layer ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** + <y v, h>: the one-hot code y (the input's last columns) picks its class's row of v, the projection's weights at `param`. */
  private projected(input: tf.Tensor2D, hidden: tf.Tensor2D, h: tf.Tensor2D, param: number, classes: number): tf.Tensor2D {
    const code = tf.slice(input, [0, this.config.inputSize - classes], [input.shape[0], classes]);
    const embedded = tf.matMul(code, this.variables[param] as tf.Tensor2D);
    return tf.add(h, tf.sum(tf.mul(hidden, embedded), 1, true));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}
