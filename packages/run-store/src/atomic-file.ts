import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `bytes` to `file` so that a crash leaves either the old file or the new one, never half. */
export function writeFileAtomic(file: string, bytes: Uint8Array | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(join(file, '..'), 'r');
  try {
    fsyncSync(dir); // make the rename itself durable
  } finally {
    closeSync(dir);
  }
}
