import type { MlpConfig } from './config.js';

export interface ParamSpec {
  /** e.g. "w1", "b1": the tutorial's naming, one pair per dense layer. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  /** Offset of this parameter in the flat snapshot. */
  readonly offset: number;
  readonly fanIn: number;
  readonly fanOut: number;
  readonly kind: 'kernel' | 'bias';
}

/** Ordered parameters of an MLP: w1, b1, w2, b2, ... The order is the snapshot layout. */
export function parameterSpec(net: MlpConfig): ParamSpec[] {
  const spec: ParamSpec[] = [];
  let offset = 0;
  let fanIn = net.inputSize;
  net.layers.forEach((layer, i) => {
    const w: ParamSpec = { name: `w${i + 1}`, shape: [fanIn, layer.units], size: fanIn * layer.units, offset, fanIn, fanOut: layer.units, kind: 'kernel' };
    offset += w.size;
    const b: ParamSpec = { name: `b${i + 1}`, shape: [layer.units], size: layer.units, offset, fanIn, fanOut: layer.units, kind: 'bias' };
    offset += b.size;
    spec.push(w, b);
    fanIn = layer.units;
  });
  return spec;
}

/** Total number of floats in a snapshot of this spec. */
export function parameterCount(spec: readonly ParamSpec[]): number {
  return spec.reduce((n, p) => n + p.size, 0);
}
