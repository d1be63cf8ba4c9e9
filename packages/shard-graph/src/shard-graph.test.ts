import { CONV_MODEL, classConditional, DEFAULT_MODEL, SEED_MODEL, type GanModelConfig } from '@distgan/models';
import { describe, expect, it } from 'vitest';
import { readFields, type ProtoField } from './protobuf.js';
import { encodeSavedModel, GRAPH_PRODUCER, type NodeDef } from './graph-def.js';
import { compileShardGraph, SHARD_GRAPH_KINDS, shardGraphUnsupportedReason, UnsupportedShardGraphError, type ShardGraphKind } from './shard-graph.js';

const text = (f: ProtoField | undefined) => new TextDecoder().decode(f!.value as Uint8Array);
const sub = (f: ProtoField | undefined) => readFields(f!.value as Uint8Array);
const options = { realLabel: 1 };

function compile(model: GanModelConfig, kind: ShardGraphKind) {
  return compileShardGraph(model, kind, options);
}

/** Each node's attrs decoded from the SavedModel's bytes: name -> { op, inputs, attrs: key -> AttrValue fields }. */
function decodeNodes(bytes: Uint8Array): Map<string, { op: string; inputs: string[]; attrs: Map<string, ProtoField[]> }> {
  const [schema, metaGraph] = readFields(bytes);
  expect(schema!.value).toBe(1n);
  const meta = sub(metaGraph);
  const graph = sub(meta.find((f) => f.field === 2));
  const nodes = new Map<string, { op: string; inputs: string[]; attrs: Map<string, ProtoField[]> }>();
  for (const field of graph.filter((f) => f.field === 1)) {
    const node = sub(field);
    const attrs = new Map<string, ProtoField[]>();
    for (const entry of node.filter((f) => f.field === 5).map(sub)) attrs.set(text(entry[0]), sub(entry[1]));
    nodes.set(text(node.find((f) => f.field === 1)), {
      op: text(node.find((f) => f.field === 2)),
      inputs: node.filter((f) => f.field === 3).map(text),
      attrs,
    });
  }
  const versions = sub(graph.find((f) => f.field === 4));
  expect(versions[0]!.value).toBe(BigInt(GRAPH_PRODUCER));
  return nodes;
}

describe('compileShardGraph', () => {
  it('encodes a SavedModel tagged serve whose serving_default signature names every input and output', () => {
    const graph = compile(SEED_MODEL, 'discriminator');
    const bytes = encodeSavedModel(graph.nodes, graph.signature);
    const meta = sub(readFields(bytes)[1]);
    expect(sub(meta.find((f) => f.field === 1)).map(text)).toEqual(['serve']);
    const signatureEntry = sub(meta.find((f) => f.field === 5));
    expect(text(signatureEntry[0])).toBe('serving_default');
    const signature = sub(signatureEntry[1]);
    const keys = (field: number) => signature.filter((f) => f.field === field).map((f) => text(sub(f)[0]));
    expect(keys(1).sort()).toEqual(['D/b1', 'D/b2', 'D/w1', 'D/w2', 'G/b1', 'G/b2', 'G/w1', 'G/w2', 'images', 'noise']);
    expect(keys(2)).toEqual(['gradient', 'stats']);
    const gradientInfo = sub(sub(signature.filter((f) => f.field === 2)[0])[1]);
    expect(text(gradientInfo[0])).toBe('gradient:0');
    // [471601]: D's parameter count.
    expect(sub(sub(gradientInfo[2])[0])[0]!.value).toBe(471_601n);
    expect(text(signature.find((f) => f.field === 3))).toBe('tensorflow/serving/predict');
  });

  it('gives every node the attributes TensorFlow requires, with the ops that keep the eager bits', () => {
    for (const model of [SEED_MODEL, classConditional(DEFAULT_MODEL, 10)]) {
      for (const kind of SHARD_GRAPH_KINDS) {
        const graph = compile(model, kind);
        const nodes = decodeNodes(encodeSavedModel(graph.nodes, graph.signature));
        expect(nodes.size).toBe(graph.nodes.length);
        for (const [name, node] of nodes) {
          for (const input of node.inputs) expect(nodes.has(input.split(':')[0]!), `${name} reads ${input}`).toBe(true);
          const attr = (key: string) => node.attrs.get(key)?.[0];
          switch (node.op) {
            case 'BatchMatMulV2':
              expect([attr('T')!.field, attr('T')!.value]).toEqual([6, 1n]); // type: DT_FLOAT
              expect(attr('adj_x')!.field).toBe(5);
              expect(attr('adj_y')!.field).toBe(5);
              break;
            case 'Sum':
              expect(attr('keep_dims')!.value).toBe(0n);
              expect(attr('Tidx')!.value).toBe(3n); // DT_INT32
              break;
            case 'ConcatV2': {
              const axis = nodes.get(node.inputs.at(-1)!)!;
              const tensor = sub(axis.attrs.get('value')![0]);
              expect(sub(tensor[1]), 'the axis is a scalar').toEqual([]);
              expect(attr('N')!.value).toBe(BigInt(node.inputs.length - 1));
              break;
            }
            case 'Placeholder': {
              const dims = sub(attr('shape')).map((d) => BigInt.asIntN(64, sub(d)[0]!.value as bigint));
              if (['images', 'noise', 'realCode', 'fakeCode'].includes(name)) expect(dims[0]).toBe(-1n);
              break;
            }
            case 'LeakyRelu':
              expect(attr('alpha')!.value).toBe(Math.fround(0.2));
              break;
            default:
              expect(attr('T') ?? attr('dtype'), `${name} (${node.op}) has its type`).toBeDefined();
          }
          expect(['MatMul', 'BiasAdd', 'BiasAddGrad', 'TanhGrad', 'SigmoidGrad']).not.toContain(node.op);
        }
      }
    }
  });

  it('computes the gradient of the trained network only: D tasks differentiate D, G tasks G', () => {
    const dGraph = compile(SEED_MODEL, 'discriminatorReal');
    expect(dGraph.network).toBe('D');
    expect(dGraph.signature.inputs.map((i) => i.key).sort()).toEqual(['D/b1', 'D/b2', 'D/w1', 'D/w2', 'images']);
    const gGraph = compile(SEED_MODEL, 'generator');
    expect(gGraph.network).toBe('G');
    expect(gGraph.signature.outputs.map((o) => o.shape)).toEqual([[591_784], [2]]);
    // A D task's statistics: [real loss, real score, fake loss, fake score].
    expect(compile(SEED_MODEL, 'discriminator').signature.outputs[1]!.shape).toEqual([4]);
    const matMuls = (nodes: readonly NodeDef[]) => nodes.filter((n) => n.op === 'BatchMatMulV2').length;
    // Real share: 2 forward, 2 weight gradients, 1 input gradient (between D's layers).
    expect(matMuls(dGraph.nodes)).toBe(5);
    // G task: 4 forward (G then D), D's 2 input gradients, G's 2 weight gradients and 1 input gradient.
    expect(matMuls(gGraph.nodes)).toBe(9);
  });

  it('feeds a conditional model its class codes and slices them off the gradient that reaches G', () => {
    const model = classConditional(DEFAULT_MODEL, 10);
    const keys = (kind: ShardGraphKind) => compile(model, kind).signature.inputs.map((i) => i.key);
    expect(keys('discriminator')).toEqual(expect.arrayContaining(['images', 'realCode', 'noise', 'fakeCode']));
    expect(keys('generator')).not.toContain('realCode');
    const slice = compile(model, 'generator').nodes.find((n) => n.op === 'Slice');
    expect(slice).toBeDefined();
  });

  it('refuses what it does not compile, naming it', () => {
    expect(shardGraphUnsupportedReason(SEED_MODEL)).toBeNull();
    expect(shardGraphUnsupportedReason(CONV_MODEL)).toMatch(/^G has a reshape layer \(layer 2\)/);
    expect(shardGraphUnsupportedReason(SEED_MODEL, 'leastSquares')).toMatch(/leastSquares objective/);
    const relu: GanModelConfig = {
      ...SEED_MODEL,
      generator: { ...SEED_MODEL.generator, layers: [{ units: 600, activation: 'relu' }, SEED_MODEL.generator.layers[1]!] },
    };
    expect(shardGraphUnsupportedReason(relu)).toMatch(/G uses relu \(layer 1\)/);
    expect(shardGraphUnsupportedReason({ ...SEED_MODEL, discriminator: { ...SEED_MODEL.discriminator, dropout: 0.25 } })).toMatch(/D uses dropout/);
    expect(shardGraphUnsupportedReason(classConditional(SEED_MODEL, 10, { projection: true }))).toMatch(/projection/);
    expect(() => compile(CONV_MODEL, 'generator')).toThrow(UnsupportedShardGraphError);
  });

  it('encodes the same graph to the same bytes', () => {
    const a = compile(SEED_MODEL, 'generator');
    const b = compile(SEED_MODEL, 'generator');
    expect(encodeSavedModel(a.nodes, a.signature)).toEqual(encodeSavedModel(b.nodes, b.signature));
  });
});
