import { backendTraits } from '@distgan/runtime';
import * as tf from '@tensorflow/tfjs';
import type { GanModelConfig } from '@distgan/models';
import { compileShardGraph, shardGraphUnsupportedReason, type ShardGraph, type ShardGraphKind, type ShardGraphOptions } from '@distgan/shard-graph';
import { GraphSession } from './graph-session.js';
import type { GanNetworks } from './networks.js';

export type { ShardGraphKind };

/** The environment variable that turns shard graphs off (`off`) where they would be used. */
export const SHARD_GRAPHS_ENV = 'DISTGAN_SHARD_GRAPHS';

/** Whether shard graphs are wanted: on tfjs-node, unless `DISTGAN_SHARD_GRAPHS=off`. */
export function shardGraphsWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return backendTraits().nativeKernels && env[SHARD_GRAPHS_ENV] !== 'off';
}

/** A shard's gradient (flat, in the trained network's snapshot order; the caller owns it) and its statistics. */
export interface ShardGradient {
  readonly gradient: tf.Tensor1D;
  readonly stats: Float32Array;
}

/** What a shard graph is fed besides the weights: the task's rows. */
export interface ShardRows {
  readonly rows: number;
  /** Real images, [rows, image size] (D tasks with a real term). */
  readonly images?: Float32Array;
  /** Noise, [rows, noise size] (tasks with fakes). */
  readonly noise?: Float32Array;
  /** The rows' classes for a class-conditional model (null: unconditional). */
  readonly realClasses: Int32Array | null;
  readonly fakeClasses: Int32Array | null;
}

export type ShardGraphCompiler = (model: GanModelConfig, kind: ShardGraphKind, options: ShardGraphOptions) => ShardGraph;

/** A kind's graph before its first task (not yet compared with the eager ops), in use, or set aside for eager ops. */
type GraphState = { readonly state: 'unchecked' | 'trusted'; readonly session: GraphSession } | { readonly state: 'eager' };

function oneHot(classes: Int32Array, count: number): Float32Array {
  const code = new Float32Array(classes.length * count);
  classes.forEach((c, row) => {
    code[row * count + c] = 1;
  });
  return code;
}

/** The first of `a` and `b`'s values whose bits differ, or -1 when they are the same bits. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/**
 * Shard gradients as TensorFlow graphs on tfjs-node: each kind of task compiled once per process
 * (`@distgan/shard-graph`) and run as one session call, fed the networks' variables as they are
 * (a snapshot's tensors are made once, when it loads). Before a kind's graph is trusted, its first
 * task is also computed with the eager ops and the two compared bit for bit: any difference (or
 * an error) sets the graph aside for the eager ops, with one line saying why. A model the
 * compiler does not cover runs eagerly, also with one line saying why.
 */
export class ShardGraphs {
  private readonly kinds = new Map<ShardGraphKind, GraphState>();
  private readonly unsupported: string | null;

  constructor(
    private readonly model: GanModelConfig,
    private readonly options: ShardGraphOptions,
    private readonly networks: GanNetworks,
    private readonly log: (line: string) => void,
    private readonly compile: ShardGraphCompiler = compileShardGraph,
  ) {
    this.unsupported = shardGraphUnsupportedReason(model, options.objective);
    log(
      this.unsupported === null
        ? 'shard graphs on: each task one TensorFlow session call, checked against the eager ops on its first task'
        : `shard graphs off: ${this.unsupported}; tasks run as eager tfjs-node ops`,
    );
  }

  /** The kinds whose graph is in use after passing its check. */
  trustedKinds(): ShardGraphKind[] {
    return [...this.kinds].filter(([, s]) => s.state === 'trusted').map(([kind]) => kind);
  }

  /** The task's gradient: by its kind's graph where that is in use, else by `eager`. */
  gradient(kind: ShardGraphKind, rows: () => ShardRows, eager: () => ShardGradient): ShardGradient {
    const state = this.stateOf(kind);
    if (state.state === 'eager') return eager();
    let fromGraph: ShardGradient;
    try {
      fromGraph = this.run(state.session, rows());
    } catch (err) {
      this.setAside(kind, `its session call failed: ${(err as Error).message.split('\n')[0]}`);
      return eager();
    }
    if (state.state === 'trusted') return fromGraph;
    return this.check(kind, state.session, fromGraph, eager());
  }

  private stateOf(kind: ShardGraphKind): GraphState {
    let state = this.kinds.get(kind);
    if (!state) {
      state = { state: 'eager' };
      if (this.unsupported === null) {
        try {
          state = { state: 'unchecked', session: new GraphSession(this.compile(this.model, kind, this.options)) };
        } catch (err) {
          this.log(`shard graphs: the ${kind} graph could not be loaded (${(err as Error).message.split('\n')[0]}); its tasks run as eager ops`);
        }
      }
      this.kinds.set(kind, state);
    }
    return state;
  }

  /** Keeps whichever result the check allows and disposes the other. */
  private check(kind: ShardGraphKind, session: GraphSession, fromGraph: ShardGradient, fromEager: ShardGradient): ShardGradient {
    const graphValues = fromGraph.gradient.dataSync() as Float32Array;
    const eagerValues = fromEager.gradient.dataSync() as Float32Array;
    const at = firstDifference(graphValues, eagerValues);
    const statsAt = firstDifference(fromGraph.stats, fromEager.stats);
    if (at < 0 && statsAt < 0) {
      this.kinds.set(kind, { state: 'trusted', session });
      fromEager.gradient.dispose();
      return fromGraph;
    }
    fromGraph.gradient.dispose();
    this.setAside(
      kind,
      at >= 0
        ? `its gradient differs from the eager ops' (value ${at}: ${graphValues[at]} against ${eagerValues[at]})`
        : `its statistics differ from the eager ops' (value ${statsAt}: ${fromGraph.stats[statsAt]} against ${fromEager.stats[statsAt]})`,
    );
    return fromEager;
  }

  private setAside(kind: ShardGraphKind, reason: string): void {
    const state = this.kinds.get(kind);
    if (state && state.state !== 'eager') state.session.dispose();
    this.kinds.set(kind, { state: 'eager' });
    this.log(`shard graphs: the ${kind} graph is not used, ${reason}; its tasks run as eager ops`);
  }

  private run(session: GraphSession, rows: ShardRows): ShardGradient {
    const [gradient, stats] = tf.tidy(() => {
      const feeds: Record<string, tf.Tensor> = {};
      for (const name of ['D', 'G'] as const) {
        this.networks.net(name).spec.forEach((p, i) => {
          feeds[`${name}/${p.name}`] = this.networks.net(name).variables[i]!;
        });
      }
      const classes = this.model.classes ?? 0;
      // tfjs-node copies a typed array into TensorFlow at the tensor's first use, which is the
      // session call below: the caller's buffers need no copy of their own.
      const matrix = (values: Float32Array, width: number) => tf.tensor2d(values, [rows.rows, width]);
      if (rows.images) feeds.images = matrix(rows.images, rows.images.length / rows.rows);
      if (rows.noise) feeds.noise = matrix(rows.noise, this.model.noise.size);
      if (rows.realClasses) feeds.realCode = matrix(oneHot(rows.realClasses, classes), classes);
      if (rows.fakeClasses) feeds.fakeCode = matrix(oneHot(rows.fakeClasses, classes), classes);
      return session.run(feeds) as [tf.Tensor1D, tf.Tensor1D];
    });
    try {
      return { gradient, stats: stats.dataSync() as Float32Array };
    } finally {
      stats.dispose();
    }
  }

  dispose(): void {
    for (const state of this.kinds.values()) if (state.state !== 'eager') state.session.dispose();
    this.kinds.clear();
  }
}
