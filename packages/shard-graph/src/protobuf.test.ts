import { describe, expect, it } from 'vitest';
import { ProtoWriter, readFields } from './protobuf.js';

describe('protobuf wire format', () => {
  it('writes varints (negative int64 as ten bytes), strings, floats, packed varints and messages that read back', () => {
    const bytes = new ProtoWriter()
      .varint(1, 150)
      .varint(2, -1)
      .varint(3, true)
      .string(4, 'D/w1')
      .float(5, 0.2)
      .packedVarints(6, [0, 1, 300])
      .message(7, (inner) => inner.varint(1, 2474))
      .mapEntry(8, 'key', (value) => value.string(1, 'v'))
      .finish();
    // 150 is the protobuf documentation's own example: 08 96 01.
    expect([...bytes.subarray(0, 3)]).toEqual([0x08, 0x96, 0x01]);
    const fields = readFields(bytes);
    expect(fields.map((f) => f.field)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(fields[0]!.value).toBe(150n);
    expect(BigInt.asIntN(64, fields[1]!.value as bigint)).toBe(-1n);
    expect(fields[2]!.value).toBe(1n);
    expect(new TextDecoder().decode(fields[3]!.value as Uint8Array)).toBe('D/w1');
    expect(fields[4]!.value).toBe(Math.fround(0.2));
    expect(readPackedVarints(fields[5]!.value as Uint8Array)).toEqual([0n, 1n, 300n]);
    expect(readFields(fields[6]!.value as Uint8Array)[0]!.value).toBe(2474n);
    const entry = readFields(fields[7]!.value as Uint8Array);
    expect(new TextDecoder().decode(entry[0]!.value as Uint8Array)).toBe('key');
    expect(entry[1]!.field).toBe(2);
  });

  it('refuses truncated input', () => {
    const bytes = new ProtoWriter().string(1, 'abcdef').finish();
    expect(() => readFields(bytes.subarray(0, 4))).toThrow(/field 1: 6 bytes announced, 2 left/);
    expect(() => readFields(Uint8Array.of(0x08, 0x80))).toThrow(/truncated varint/);
    expect(() => readFields(Uint8Array.of(0x0b))).toThrow(/unsupported wire type 3/);
  });

  it('grows its buffer past the first allocation', () => {
    const big = new Uint8Array(10_000).map((_, i) => i % 251);
    const [field] = readFields(new ProtoWriter().bytes(1, big).finish());
    expect(field!.value).toEqual(big);
  });
});

function readPackedVarints(bytes: Uint8Array): bigint[] {
  // A packed field is a run of bare varints: read each as field 1 of a one-field message.
  const values: bigint[] = [];
  let at = 0;
  while (at < bytes.length) {
    let end = at;
    while (bytes[end]! >= 0x80) end++;
    const [field] = readFields(Uint8Array.of(0x08, ...bytes.subarray(at, end + 1)));
    values.push(field!.value as bigint);
    at = end + 1;
  }
  return values;
}
