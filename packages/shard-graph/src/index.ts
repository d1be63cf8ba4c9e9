export {
  compileShardGraph,
  shardGraphUnsupportedReason,
  UnsupportedShardGraphError,
  SHARD_GRAPH_KINDS,
  type ShardGraph,
  type ShardGraphKind,
  type ShardGraphOptions,
} from './shard-graph.js';
export {
  encodeGraphDef,
  encodeSavedModel,
  GRAPH_PRODUCER,
  SERVE_TAG,
  SIGNATURE_KEY,
  type AttrValue,
  type ConstValue,
  type DataType,
  type GraphSignature,
  type NodeDef,
  type SignatureTensor,
} from './graph-def.js';
export { GraphBuilder } from './graph-builder.js';
export { ProtoWriter, readFields, type ProtoField } from './protobuf.js';
