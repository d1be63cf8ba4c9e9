import { encodeMessage, FrameBuffer, resultFileName } from '@distgan/protocol';
import { traceFromEnv } from '@distgan/runtime';
import type { ShardResult } from '@distgan/training';
import { writeResultFile } from './shared-folder.js';

const trace = traceFromEnv('worker');

/**
 * The frames a worker sends its results in: a `result` frame encoded into memory the next one
 * reuses (safe: the worker computes the next task only once ws has sent this one), or, where the
 * coordinator shares a folder with it, the gradient in a file there and a small `resultFile`.
 */
export class ResultFrames {
  private readonly memory = new FrameBuffer();
  private files = 0;

  /** `shared`: the folder and this connection's worker id when results go through the folder. */
  frameOf(result: ShardResult, cpuMs: number, shared: { readonly dir: string; readonly workerId: string } | null): Uint8Array {
    if (shared) {
      const { gradient, ...fields } = result;
      const file = resultFileName(shared.workerId, ++this.files);
      writeResultFile(shared.dir, file, gradient);
      return encodeMessage({ type: 'resultFile', ...fields, cpuMs, file });
    }
    const frame = encodeMessage({ type: 'result', ...result, cpuMs }, this.memory);
    trace('encoded', { bytes: frame.byteLength });
    return frame;
  }
}
