import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { traceFromEnv } from '@distgan/runtime';

// A local worker's side of the folder its coordinator shares with it (protocol 4).

const trace = traceFromEnv('worker');

/**
 * A `snapshotFile`'s weights: the file's bytes as float32, or null when the file is gone, which
 * happens only to a version two behind the coordinator's latest, whose tasks are all done. The
 * values are not scanned for NaN: they come from this machine's coordinator, which checks every
 * sum before Adam, and a bad weight would only make this worker's results refused.
 */
export function readSnapshotFile(dir: string | undefined, file: string): Float32Array | null {
  if (!dir) throw new Error(`a snapshot file (${file}) came, but this worker was started without a shared folder`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(dir, file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      trace('snapshotGone', { file });
      return null;
    }
    throw err;
  }
  if (bytes.byteLength % 4 !== 0) throw new Error(`${file} holds ${bytes.byteLength} bytes, not a whole number of float32 values`);
  // A file this large gets memory of its own from readFileSync; copy only if it did not.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** Writes a gradient's raw float32 bytes to `file` in the shared folder (a `resultFile`'s). */
export function writeResultFile(dir: string, file: string, gradient: Float32Array): void {
  writeFileSync(join(dir, file), new Uint8Array(gradient.buffer, gradient.byteOffset, gradient.byteLength));
  trace('resultWritten', { bytes: gradient.byteLength });
}
