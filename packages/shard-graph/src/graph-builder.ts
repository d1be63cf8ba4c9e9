import type { AttrValue, ConstValue, DataType, NodeDef } from './graph-def.js';

const FLOAT: AttrValue = { type: 'float32' };
const INT32: AttrValue = { type: 'int32' };

/**
 * Appends TensorFlow nodes to a graph, one method per op the shard graphs use, each with the
 * attributes TensorFlow requires of it. Every method returns the name of the node's (first)
 * output. Float ops are float32; constants are shared by value.
 */
export class GraphBuilder {
  readonly nodes: NodeDef[] = [];
  private readonly constants = new Map<string, string>();
  private readonly counts = new Map<string, number>();

  /** A fresh node name: `base`, else `base_1`, `base_2`, ... */
  private uniqueName(base: string): string {
    const seen = this.counts.get(base) ?? 0;
    this.counts.set(base, seen + 1);
    return seen === 0 ? base : `${base}_${seen}`;
  }

  node(op: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, name: string = op): string {
    const unique = this.uniqueName(name);
    this.nodes.push({ name: unique, op, inputs, attrs });
    return unique;
  }

  /** A graph input; -1 in `shape` for a dimension of any size. */
  placeholder(name: string, dtype: DataType, shape: readonly number[]): string {
    if (this.counts.has(name)) throw new Error(`two graph inputs named ${name}`);
    return this.node('Placeholder', [], { dtype: { type: dtype }, shape: { shape } }, name);
  }

  constant(value: ConstValue): string {
    const key = JSON.stringify(value);
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.node('Const', [], { dtype: { type: value.dtype }, value: { tensor: value } }, 'const');
      this.constants.set(key, name);
    }
    return name;
  }

  scalar(value: number): string {
    return this.constant({ dtype: 'float32', shape: [], values: [value] });
  }

  private ints(values: readonly number[]): string {
    return this.constant({ dtype: 'int32', shape: [values.length], values });
  }

  /** a @ b with TensorFlow's adjoint flags (what tf.matMul issues on tfjs-node). */
  matMul(a: string, b: string, adjointA = false, adjointB = false): string {
    return this.node('BatchMatMulV2', [a, b], { T: FLOAT, adj_x: { b: adjointA }, adj_y: { b: adjointB } });
  }

  add(a: string, b: string): string {
    return this.node('AddV2', [a, b], { T: FLOAT });
  }

  sub(a: string, b: string): string {
    return this.node('Sub', [a, b], { T: FLOAT });
  }

  mul(a: string, b: string): string {
    return this.node('Mul', [a, b], { T: FLOAT });
  }

  greater(a: string, b: string): string {
    return this.node('Greater', [a, b], { T: FLOAT });
  }

  /** condition ? a : b, element-wise. */
  select(condition: string, a: string, b: string): string {
    return this.node('Select', [condition, a, b], { T: FLOAT });
  }

  unary(op: 'Tanh' | 'Sigmoid' | 'Softplus' | 'Square', x: string): string {
    return this.node(op, [x], { T: FLOAT });
  }

  leakyRelu(x: string, alpha: number): string {
    return this.node('LeakyRelu', [x], { T: FLOAT, alpha: { f: alpha } });
  }

  sum(x: string, axes: readonly number[]): string {
    return this.node('Sum', [x, this.ints(axes)], { T: FLOAT, Tidx: INT32, keep_dims: { b: false } });
  }

  reshape(x: string, shape: readonly number[]): string {
    return this.node('Reshape', [x, this.ints(shape)], { T: FLOAT, Tshape: INT32 });
  }

  concat(xs: readonly string[], axis: number): string {
    // The axis must be a scalar: TensorFlow refuses a one-element vector here.
    const axisTensor = this.constant({ dtype: 'int32', shape: [], values: [axis] });
    return this.node('ConcatV2', [...xs, axisTensor], { N: { i: xs.length }, T: FLOAT, Tidx: INT32 });
  }

  /** Stacks scalars into a vector. */
  pack(xs: readonly string[]): string {
    return this.node('Pack', xs, { N: { i: xs.length }, T: FLOAT, axis: { i: 0 } });
  }

  /** x[begin : begin + size] per dimension; -1 takes the rest. */
  slice(x: string, begin: readonly number[], size: readonly number[]): string {
    return this.node('Slice', [x, this.ints(begin), this.ints(size)], { T: FLOAT, Index: INT32 });
  }

  identity(x: string, name: string): string {
    return this.node('Identity', [x], { T: FLOAT }, name);
  }
}
