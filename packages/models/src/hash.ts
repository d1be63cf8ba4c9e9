import { createHash } from 'node:crypto';

/** JSON with sorted keys, so equal configs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** SHA-256 (hex) of a config's canonical JSON. */
export function configHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

/** SHA-256 (hex) of the raw little-endian bytes of float snapshots, in the order given. */
export function snapshotSha256(...snapshots: Float32Array[]): string {
  const hash = createHash('sha256');
  for (const s of snapshots) hash.update(new Uint8Array(s.buffer, s.byteOffset, s.byteLength));
  return hash.digest('hex');
}
