import type { DenseLayer, Layer, NetworkConfig } from './types.js';

export interface ParamSpec {
  /** e.g. "w1", "b1": the tutorial's naming, one pair per dense or conv layer. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  /** Offset of this parameter in the flat snapshot. */
  readonly offset: number;
  /** Inputs and outputs per unit (a conv kernel's counts its window): what initialisers scale by. */
  readonly fanIn: number;
  readonly fanOut: number;
  readonly kind: 'kernel' | 'bias';
}

/** A tensor's shape per example: [features] between dense layers, [height, width, channels] for images. */
export type ExampleShape = readonly [number] | readonly [number, number, number];

const positiveInteger = (n: number) => Number.isInteger(n) && n > 0;

/**
 * The shape after each layer, starting from the flat input. Throws one message naming the first
 * layer whose input does not fit it (a dense layer on an image, an odd side before a pool, ...).
 */
export function layerShapes(net: NetworkConfig): ExampleShape[] {
  if (!positiveInteger(net.inputSize)) throw new Error(`input size ${net.inputSize} is not a positive integer`);
  let shape: ExampleShape = [net.inputSize];
  const shapes = net.layers.map((layer, i) => {
    shape = nextShape(layer, shape, i + 1);
    return shape;
  });
  if (net.projection) projectedWidth(net, net.projection.classes, shapes);
  return shapes;
}

/** The width of h, the last hidden output, that a projection embeds the class code against. */
function projectedWidth(net: NetworkConfig, classes: number, shapes: readonly ExampleShape[]): number {
  const last = net.layers.at(-1);
  const fail = (problem: string): never => {
    throw new Error(`a projection ${problem}`);
  };
  if (!(positiveInteger(classes) && classes < net.inputSize)) fail(`needs a class count in [1, ${net.inputSize}), got ${classes}`);
  if (!last || (last.kind ?? 'dense') !== 'dense' || (last as DenseLayer).units !== 1 || (last as DenseLayer).activation !== 'linear')
    fail('needs a last dense layer of 1 linear unit');
  const h = shapes.length >= 2 ? shapes[shapes.length - 2]! : ([net.inputSize] as const);
  if (h.length !== 1) fail('needs a flat input to the last layer');
  return h[0];
}

function nextShape(layer: Layer, shape: ExampleShape, position: number): ExampleShape {
  const fail = (problem: string): never => {
    throw new Error(`layer ${position} (${layer.kind ?? 'dense'}) ${problem}, input shape [${shape.join(', ')}]`);
  };
  const image = (): readonly [number, number, number] => (shape.length === 3 ? shape : fail('needs an image input; add a reshape layer'));
  switch (layer.kind) {
    case undefined:
    case 'dense':
      if (shape.length !== 1) fail('needs a flat input; add a flatten layer');
      if (!positiveInteger(layer.units)) fail(`has ${layer.units} units, not a positive integer`);
      return [layer.units];
    case 'reshape': {
      if (shape.length !== 1) fail('needs a flat input');
      if (!Array.isArray(layer.shape) || layer.shape.length !== 3 || !layer.shape.every(positiveInteger))
        fail(`has shape ${JSON.stringify(layer.shape)}, not 3 positive integers`);
      const [h, w, c] = layer.shape;
      if (h * w * c !== shape[0]) fail(`makes [${layer.shape.join(', ')}] = ${h * w * c} values from ${shape[0]}`);
      return [h, w, c];
    }
    case 'conv': {
      const [h, w] = image();
      if (!positiveInteger(layer.filters)) fail(`has ${layer.filters} filters, not a positive integer`);
      if (!(positiveInteger(layer.kernel) && layer.kernel % 2 === 1)) fail(`has kernel ${layer.kernel}; 'same' padding needs an odd positive size`);
      return [h, w, layer.filters];
    }
    case 'upsample': {
      const [h, w, c] = image();
      return [2 * h, 2 * w, c];
    }
    case 'avgPool': {
      const [h, w, c] = image();
      if (h % 2 !== 0 || w % 2 !== 0) fail('needs even sides');
      return [h / 2, w / 2, c];
    }
    case 'flatten': {
      const [h, w, c] = image();
      return [h * w * c];
    }
    default: {
      const unknown: never = layer;
      throw new Error(`layer ${position} has unknown kind ${JSON.stringify((unknown as { kind?: unknown }).kind)}`);
    }
  }
}

/** The number of floats per example of a shape. */
export function shapeSize(shape: ExampleShape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Ordered parameters: w1, b1, w2, b2, ... one pair per dense or conv layer, then a projection's
 * class embedding `v`. The order is the snapshot layout.
 */
export function parameterSpec(net: NetworkConfig): ParamSpec[] {
  const shapes = layerShapes(net);
  const spec: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], fanIn: number, fanOut: number, kind: ParamSpec['kind']) => {
    const p: ParamSpec = { name, shape, size: shape.reduce((a, b) => a * b, 1), offset, fanIn, fanOut, kind };
    offset += p.size;
    spec.push(p);
  };
  net.layers.forEach((layer, i) => {
    const input: ExampleShape = i === 0 ? [net.inputSize] : shapes[i - 1]!;
    const n = spec.length / 2 + 1;
    if (layer.kind === undefined || layer.kind === 'dense') {
      const fanIn = input[0];
      add(`w${n}`, [fanIn, layer.units], fanIn, layer.units, 'kernel');
      add(`b${n}`, [layer.units], fanIn, layer.units, 'bias');
    } else if (layer.kind === 'conv') {
      const channels = input[2]!;
      const window = layer.kernel * layer.kernel;
      add(`w${n}`, [layer.kernel, layer.kernel, channels, layer.filters], window * channels, window * layer.filters, 'kernel');
      add(`b${n}`, [layer.filters], window * channels, window * layer.filters, 'bias');
    }
  });
  if (net.projection) {
    const width = projectedWidth(net, net.projection.classes, shapes);
    add('v', [net.projection.classes, width], net.projection.classes, width, 'kernel');
  }
  return spec;
}

/** Total number of floats in a snapshot of this spec. */
export function parameterCount(spec: readonly ParamSpec[]): number {
  return spec.reduce((n, p) => n + p.size, 0);
}
