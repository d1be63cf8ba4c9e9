import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendTraits } from '@distgan/runtime';
import * as tf from '@tensorflow/tfjs';
import { encodeSavedModel, SERVE_TAG, type ShardGraph } from '@distgan/shard-graph';

/** What `runSavedModel` reads of each input: its tensor's name and TensorFlow type. */
interface SessionTensorInfo {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: 'float32';
  readonly tfDtype: 'DT_FLOAT';
}

/**
 * The session calls of tfjs-node's backend (declared in its nodejs_kernel_backend.d.ts), which its
 * own `tf.node.loadSavedModel` wraps. Called directly because they are synchronous, so a shard
 * stays one synchronous call; the wrapper only adds reading the file back to find the names this
 * module wrote.
 */
interface SessionBackend {
  loadSavedModelMetaGraph(path: string, tags: string): number;
  runSavedModel(id: number, inputs: tf.Tensor[], inputTensorInfos: SessionTensorInfo[], outputOpNames: string[]): tf.Tensor[];
  deleteSavedModel(id: number): void;
}

function sessionBackend(): SessionBackend {
  const backend = tf.backend() as unknown as Partial<SessionBackend>;
  if (!backendTraits().nativeKernels || typeof backend.loadSavedModelMetaGraph !== 'function' || typeof backend.runSavedModel !== 'function') {
    throw new Error(`shard graphs need the tfjs-node backend's SavedModel session calls (backend now: ${tf.getBackend()})`);
  }
  return backend as SessionBackend;
}

/**
 * A compiled shard graph loaded into one TensorFlow session: `run` is one session call. The
 * SavedModel is written to a temporary folder only for the load (TensorFlow reads graphs from
 * files) and removed at once.
 */
export class GraphSession {
  private readonly backend: SessionBackend;
  private readonly id: number;
  private readonly inputKeys: readonly string[];
  private readonly inputInfos: SessionTensorInfo[];
  private readonly outputNames: string[];

  constructor(readonly graph: ShardGraph) {
    this.backend = sessionBackend();
    const dir = mkdtempSync(join(tmpdir(), 'distgan-graph-'));
    try {
      writeFileSync(join(dir, 'saved_model.pb'), encodeSavedModel(graph.nodes, graph.signature));
      this.id = this.backend.loadSavedModelMetaGraph(dir, SERVE_TAG);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    this.inputKeys = graph.signature.inputs.map((input) => input.key);
    this.inputInfos = graph.signature.inputs.map((input) => ({ name: input.tensor, shape: [...input.shape], dtype: 'float32', tfDtype: 'DT_FLOAT' }));
    this.outputNames = graph.signature.outputs.map((output) => output.tensor);
  }

  /** The graph's outputs in signature order (the caller owns them), given a tensor for every input key. */
  run(feeds: Readonly<Record<string, tf.Tensor>>): tf.Tensor[] {
    const inputs = this.inputKeys.map((key) => {
      const tensor = feeds[key];
      if (!tensor) throw new Error(`shard graph ${this.graph.kind}: no tensor fed for input ${key}`);
      return tensor;
    });
    return this.backend.runSavedModel(this.id, inputs, this.inputInfos, this.outputNames);
  }

  dispose(): void {
    this.backend.deleteSavedModel(this.id);
  }
}
