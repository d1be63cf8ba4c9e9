import { ProtoWriter } from './protobuf.js';

// TensorFlow's graph messages (graph.proto, node_def.proto, attr_value.proto, tensor.proto,
// meta_graph.proto, saved_model.proto) as plain data, and their encoding into a SavedModel.

export type DataType = 'float32' | 'int32' | 'bool';

/** TensorFlow's DataType enum values (types.proto). */
const DATA_TYPE_CODES: Record<DataType, number> = { float32: 1, int32: 3, bool: 10 };

/** A constant's value: `values` row-major, length the product of `shape` (a scalar: shape []). */
export interface ConstValue {
  readonly dtype: 'float32' | 'int32';
  readonly shape: readonly number[];
  readonly values: readonly number[];
}

/** An attribute of a node: which field of TensorFlow's AttrValue it sets. */
export type AttrValue =
  | { readonly type: DataType }
  | { readonly i: number }
  | { readonly f: number }
  | { readonly b: boolean }
  /** A shape; -1 for a dimension of any size. */
  | { readonly shape: readonly number[] }
  | { readonly tensor: ConstValue };

export interface NodeDef {
  readonly name: string;
  readonly op: string;
  /** "node" or "node:k" for output k. */
  readonly inputs: readonly string[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

/** An input or output of the graph's signature: the key callers use and the tensor it names. */
export interface SignatureTensor {
  readonly key: string;
  /** "node:0". */
  readonly tensor: string;
  readonly dtype: DataType;
  readonly shape: readonly number[];
}

export interface GraphSignature {
  readonly inputs: readonly SignatureTensor[];
  readonly outputs: readonly SignatureTensor[];
}

/** TensorFlow 2.21's GraphDef version. Newer TensorFlows accept older producers; the graph uses no op newer than 2.0. */
export const GRAPH_PRODUCER = 2474;
export const SERVE_TAG = 'serve';
export const SIGNATURE_KEY = 'serving_default';

function writeShape(w: ProtoWriter, shape: readonly number[]): void {
  for (const size of shape) w.message(2, (dim) => dim.varint(1, size));
}

function writeTensor(w: ProtoWriter, value: ConstValue): void {
  const expected = value.shape.reduce((a, b) => a * b, 1);
  if (value.values.length !== expected) throw new RangeError(`constant of shape [${value.shape.join(', ')}] given ${value.values.length} values`);
  w.varint(1, DATA_TYPE_CODES[value.dtype]);
  w.message(2, (shape) => writeShape(shape, value.shape));
  const content = value.dtype === 'float32' ? new Float32Array(value.values) : new Int32Array(value.values);
  // tensor_content: the values' little-endian bytes, as TensorFlow writes them itself.
  w.bytes(4, new Uint8Array(content.buffer));
}

function writeAttr(w: ProtoWriter, value: AttrValue): void {
  if ('type' in value) w.varint(6, DATA_TYPE_CODES[value.type]);
  else if ('i' in value) w.varint(3, value.i);
  else if ('f' in value) w.float(4, value.f);
  else if ('b' in value) w.varint(5, value.b);
  else if ('shape' in value) w.message(7, (shape) => writeShape(shape, value.shape));
  else w.message(8, (tensor) => writeTensor(tensor, value.tensor));
}

function writeNode(w: ProtoWriter, node: NodeDef): void {
  w.string(1, node.name).string(2, node.op);
  for (const input of node.inputs) w.string(3, input);
  // Map entries in key order: the same graph always encodes to the same bytes.
  for (const key of Object.keys(node.attrs).sort()) w.mapEntry(5, key, (attr) => writeAttr(attr, node.attrs[key]!));
}

function writeTensorInfo(w: ProtoWriter, info: SignatureTensor): void {
  w.string(1, info.tensor).varint(2, DATA_TYPE_CODES[info.dtype]);
  w.message(3, (shape) => writeShape(shape, info.shape));
}

/** A GraphDef's bytes. */
export function encodeGraphDef(nodes: readonly NodeDef[]): Uint8Array {
  const w = new ProtoWriter();
  for (const node of nodes) w.message(1, (n) => writeNode(n, node));
  w.message(4, (versions) => versions.varint(1, GRAPH_PRODUCER));
  return w.finish();
}

/**
 * A SavedModel (saved_model.pb) of one MetaGraph tagged `serve` whose `serving_default`
 * signature is `signature`: no variables, so it is the whole model.
 */
export function encodeSavedModel(nodes: readonly NodeDef[], signature: GraphSignature): Uint8Array {
  const graph = encodeGraphDef(nodes);
  return new ProtoWriter()
    .varint(1, 1)
    .message(2, (meta) => {
      meta.message(1, (info) => info.string(4, SERVE_TAG));
      meta.bytes(2, graph);
      meta.mapEntry(5, SIGNATURE_KEY, (sig) => {
        for (const input of signature.inputs) sig.mapEntry(1, input.key, (t) => writeTensorInfo(t, input));
        for (const output of signature.outputs) sig.mapEntry(2, output.key, (t) => writeTensorInfo(t, output));
        sig.string(3, 'tensorflow/serving/predict');
      });
    })
    .finish();
}
