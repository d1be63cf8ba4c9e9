import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAdamState, encodeAdamState } from '@distgan/optim';
import { firstNonFinite } from '@distgan/protocol';
import { checkpointKey, runConfigHash, type RunConfig, type TrainingStateData } from '@distgan/training';
import { writeFileAtomic } from './atomic-file.js';

const MAGIC = 'DGCK';
const FORMAT_VERSION = 1;
const LATEST = 'latest';
const NAME = /^step-(\d{6,})\.ckpt$/;

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

interface CheckpointMeta {
  readonly format: number;
  /** The run's `checkpointKey`: the config hash without the run's length, or an older distgan's full config hash. */
  readonly runKey?: string;
  /** Where distgan versions before `runKey` kept the same key. */
  readonly configHash?: string;
  readonly nextStep: number;
  /** A state stopped between the phases of `nextStep`: the D phase's statistics. */
  readonly dPhase?: TrainingStateData['dPhase'];
  readonly parts: readonly { readonly name: string; readonly bytes: number }[];
  readonly payloadSha256: string;
}

/**
 * "where: what" for the first NaN or infinity in a state's weights, moments or average, or null.
 * A checkpoint never holds one: such a state cannot train on (Adam's moments stay infinite), so
 * it is refused when written and skipped when read.
 */
export function nonFiniteIn(data: TrainingStateData): string | null {
  const arrays: [string, Float32Array | null][] = [
    ['D weight', data.dWeights],
    ['G weight', data.gWeights],
    ["D's first moment", data.dAdam.m],
    ["D's second moment", data.dAdam.v],
    ["G's first moment", data.gAdam.m],
    ["G's second moment", data.gAdam.v],
    ["G's moving average", data.gEma],
  ];
  for (const [what, values] of arrays) {
    const at = values ? firstNonFinite(values) : -1;
    if (at >= 0) return `${what} ${at} is ${values?.[at]}`;
  }
  return null;
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Serialises a training state: magic, header length, JSON header (with payload SHA-256), payload. */
export function encodeCheckpoint(data: TrainingStateData, runKey: string): Buffer {
  const bad = nonFiniteIn(data);
  if (bad) throw new CheckpointError(`refusing to checkpoint step ${data.nextStep}: ${bad}`);
  const parts = [
    { name: 'dWeights', bytes: bytesOf(data.dWeights) },
    { name: 'gWeights', bytes: bytesOf(data.gWeights) },
    { name: 'dAdam', bytes: encodeAdamState(data.dAdam) },
    { name: 'gAdam', bytes: encodeAdamState(data.gAdam) },
    ...(data.gEma ? [{ name: 'gEma', bytes: bytesOf(data.gEma) }] : []),
  ];
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p.bytes);
  const meta: CheckpointMeta = {
    format: FORMAT_VERSION,
    runKey,
    nextStep: data.nextStep,
    ...(data.dPhase ? { dPhase: data.dPhase } : {}),
    parts: parts.map((p) => ({ name: p.name, bytes: p.bytes.byteLength })),
    payloadSha256: hash.digest('hex'),
  };
  const header = Buffer.from(JSON.stringify(meta));
  const prefix = Buffer.alloc(8);
  prefix.write(MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(header.length, 4);
  return Buffer.concat([prefix, header, ...parts.map((p) => p.bytes)]);
}

/** Parses and verifies a checkpoint written under one of `acceptedKeys`; throws CheckpointError saying what is wrong. */
export function decodeCheckpoint(buf: Buffer, acceptedKeys: string | readonly string[], file: string): TrainingStateData {
  const accepted = typeof acceptedKeys === 'string' ? [acceptedKeys] : acceptedKeys;
  if (buf.length < 8 || buf.toString('ascii', 0, 4) !== MAGIC) throw new CheckpointError(`${file}: not a distgan checkpoint (bad magic)`);
  const headerLength = buf.readUInt32LE(4);
  if (8 + headerLength > buf.length) throw new CheckpointError(`${file}: truncated header`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(buf.toString('utf8', 8, 8 + headerLength)) as CheckpointMeta;
  } catch {
    throw new CheckpointError(`${file}: corrupt header`);
  }
  if (meta.format !== FORMAT_VERSION) throw new CheckpointError(`${file}: format ${meta.format}, this build reads ${FORMAT_VERSION}`);
  const key = meta.runKey ?? meta.configHash ?? '';
  if (!accepted.includes(key))
    throw new CheckpointError(`${file}: written for another run config (key ${key.slice(0, 12)}, this run ${accepted[0]!.slice(0, 12)})`);
  const payload = buf.subarray(8 + headerLength);
  const total = meta.parts.reduce((n, p) => n + p.bytes, 0);
  if (payload.length !== total) throw new CheckpointError(`${file}: payload is ${payload.length} bytes, header says ${total} (truncated?)`);
  if (createHash('sha256').update(payload).digest('hex') !== meta.payloadSha256) throw new CheckpointError(`${file}: payload checksum mismatch (corrupt)`);
  const parts = new Map<string, Uint8Array>();
  let offset = 0;
  for (const p of meta.parts) {
    parts.set(p.name, new Uint8Array(payload.subarray(offset, offset + p.bytes))); // aligned copies
    offset += p.bytes;
  }
  const floats = (name: string) => {
    const b = parts.get(name);
    if (!b) throw new CheckpointError(`${file}: no ${name} section`);
    return new Float32Array(b.buffer, 0, b.byteLength / 4);
  };
  const adam = (name: string) => {
    const b = parts.get(name);
    if (!b) throw new CheckpointError(`${file}: no ${name} section`);
    return decodeAdamState(b);
  };
  const data: TrainingStateData = {
    nextStep: meta.nextStep,
    dWeights: floats('dWeights'),
    gWeights: floats('gWeights'),
    dAdam: adam('dAdam'),
    gAdam: adam('gAdam'),
    gEma: parts.has('gEma') ? floats('gEma') : null,
    ...(meta.dPhase ? { dPhase: phaseStats(meta.dPhase, file) } : {}),
  };
  const bad = nonFiniteIn(data);
  if (bad) throw new CheckpointError(`${file}: ${bad}`);
  return data;
}

function phaseStats(value: unknown, file: string): NonNullable<TrainingStateData['dPhase']> {
  const v = value as Record<string, unknown>;
  const ok = (key: string) => typeof v?.[key] === 'number' && Number.isFinite(v[key]);
  if (!(ok('loss') && ok('dReal') && ok('dFake'))) throw new CheckpointError(`${file}: corrupt header (dPhase)`);
  return { loss: v.loss as number, dReal: v.dReal as number, dFake: v.dFake as number };
}

/**
 * A folder of `step-NNNNNN.ckpt` files plus a `latest` pointer; keeps the newest `keep`. Writes
 * under `runKey` and reads checkpoints written under it or any of `alsoAccepted`.
 */
export class CheckpointStore {
  constructor(
    readonly dir: string,
    readonly runKey: string,
    readonly keep = 3,
    readonly alsoAccepted: readonly string[] = [],
  ) {}

  /**
   * A run's checkpoints: keyed by `checkpointKey` (the config without its length, so that
   * `--resume --steps` can extend the run), still reading those an earlier distgan keyed by the
   * full config hash.
   */
  static forRun(dir: string, config: RunConfig): CheckpointStore {
    return new CheckpointStore(dir, checkpointKey(config), 3, [runConfigHash(config)]);
  }

  save(data: TrainingStateData): string {
    const name = `step-${String(data.nextStep).padStart(6, '0')}.ckpt`;
    writeFileAtomic(join(this.dir, name), encodeCheckpoint(data, this.runKey));
    writeFileAtomic(join(this.dir, LATEST), `${name}\n`);
    for (const old of this.list().slice(this.keep)) rmSync(join(this.dir, old), { force: true });
    return join(this.dir, name);
  }

  /** Checkpoint file names, newest first. */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => NAME.test(n)).sort((a, b) => stepOf(b) - stepOf(a));
  }

  /**
   * The newest checkpoint that verifies: `latest` first, then older ones. Each one skipped is
   * reported through `warn` with the reason. Returns null when there is none at all.
   */
  loadLatest(warn: (message: string) => void): { data: TrainingStateData; file: string } | null {
    let pointer: string | undefined;
    try {
      pointer = readFileSync(join(this.dir, LATEST), 'utf8').trim();
    } catch {
      pointer = undefined;
    }
    const candidates = [...new Set([...(pointer && NAME.test(pointer) ? [pointer] : []), ...this.list()])];
    for (const name of candidates) {
      const file = join(this.dir, name);
      try {
        return { data: decodeCheckpoint(readFileSync(file), [this.runKey, ...this.alsoAccepted], file), file };
      } catch (err) {
        warn(`skipping checkpoint ${file}: ${(err as Error).message}`);
      }
    }
    return null;
  }

  /** The newest checkpoint that verifies and holds a state at or before `step` (whole steps only). */
  loadAtOrBefore(step: number, warn: (message: string) => void): { data: TrainingStateData; file: string } | null {
    for (const name of this.list().filter((n) => stepOf(n) <= step)) {
      const file = join(this.dir, name);
      try {
        const data = decodeCheckpoint(readFileSync(file), [this.runKey, ...this.alsoAccepted], file);
        if (!data.dPhase) return { data, file };
      } catch (err) {
        warn(`skipping checkpoint ${file}: ${(err as Error).message}`);
      }
    }
    return null;
  }

  /** Removes the checkpoints of states after `step` (they hold results the run undid) and points `latest` at the newest left. */
  dropAfter(step: number): void {
    for (const name of this.list()) if (stepOf(name) > step) rmSync(join(this.dir, name), { force: true });
    const newest = this.list()[0];
    if (newest) writeFileAtomic(join(this.dir, LATEST), `${newest}\n`);
    else rmSync(join(this.dir, LATEST), { force: true });
  }
}

/** The step number in a checkpoint's file name (NaN for another name). */
function stepOf(name: string): number {
  return Number(NAME.exec(name)?.[1]);
}
