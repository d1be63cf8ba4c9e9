// Protocol Buffers' wire format, the little of it a TensorFlow SavedModel needs: a writer that
// emits fields in the order they are written, and a reader of one message's fields (tests and
// error messages read graphs back with it).

const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;
type WireType = (typeof WireType)[keyof typeof WireType];

const utf8 = new TextEncoder();

/** Appends protobuf fields to a growing buffer. */
export class ProtoWriter {
  private buffer = new Uint8Array(256);
  private length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  private rawVarint(value: bigint): void {
    // int64 fields hold negative values as their 64-bit two's complement (ten bytes).
    let v = BigInt.asUintN(64, value);
    this.reserve(10);
    while (v >= 0x80n) {
      this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.length++] = Number(v);
  }

  private tag(field: number, wireType: WireType): void {
    this.rawVarint(BigInt((field << 3) | wireType));
  }

  /** An int32, int64, enum or bool field. */
  varint(field: number, value: number | boolean): this {
    this.tag(field, WireType.Varint);
    this.rawVarint(BigInt(typeof value === 'boolean' ? Number(value) : value));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WireType.LengthDelimited);
    this.rawVarint(BigInt(value.length));
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** An embedded message, written by `write` into a writer of its own. */
  message(field: number, write: (writer: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  /** A `float` field (fixed 32 bits, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WireType.Fixed32);
    this.reserve(4);
    new DataView(this.buffer.buffer, this.buffer.byteOffset + this.length, 4).setFloat32(0, value, true);
    this.length += 4;
    return this;
  }

  /** A packed repeated int32 or int64 field. */
  packedVarints(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.rawVarint(BigInt(v));
    return this.bytes(field, inner.finish());
  }

  /** A map<string, message> entry: key 1, value 2. */
  mapEntry(field: number, key: string, write: (writer: ProtoWriter) => void): this {
    return this.message(field, (entry) => entry.string(1, key).message(2, write));
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** One field as read off the wire: varints as bigint, fixed32 as its raw bits, bytes as bytes. */
export interface ProtoField {
  readonly field: number;
  readonly wireType: number;
  readonly value: bigint | Uint8Array | number;
}

/** Reads the fields of one message, in wire order. Throws on truncated or unknown wire types. */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= bytes.length) throw new RangeError('truncated varint');
      const byte = bytes[at++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
      if (shift > 63n) throw new RangeError('varint longer than 10 bytes');
    }
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wireType = key & 7;
    switch (wireType) {
      case WireType.Varint:
        fields.push({ field, wireType, value: varint() });
        break;
      case WireType.LengthDelimited: {
        const length = Number(varint());
        if (at + length > bytes.length) throw new RangeError(`field ${field}: ${length} bytes announced, ${bytes.length - at} left`);
        fields.push({ field, wireType, value: bytes.subarray(at, at + length) });
        at += length;
        break;
      }
      case WireType.Fixed32:
        if (at + 4 > bytes.length) throw new RangeError(`field ${field}: truncated fixed32`);
        fields.push({ field, wireType, value: new DataView(bytes.buffer, bytes.byteOffset + at, 4).getFloat32(0, true) });
        at += 4;
        break;
      case WireType.Fixed64:
        if (at + 8 > bytes.length) throw new RangeError(`field ${field}: truncated fixed64`);
        fields.push({ field, wireType, value: new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigUint64(0, true) });
        at += 8;
        break;
      default:
        throw new RangeError(`field ${field}: unsupported wire type ${wireType}`);
    }
  }
  return fields;
}
