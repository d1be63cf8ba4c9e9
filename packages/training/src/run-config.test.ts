import { selectBackend } from '@distgan/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRunConfig } from './index.js';

beforeAll(async () => {
  await selectBackend();
});

describe('run config and samples', () => {
  it('rejects impossible configs with a message naming the field', () => {
    expect(() => makeRunConfig('seed', { shards: 200 })).toThrow(/shards \(200\) cannot exceed the batch size \(128\)/);
    expect(() => makeRunConfig('seed', { batchSize: 0 })).toThrow(/batch size must be an integer/);
    expect(makeRunConfig('seed').steps).toBe(50);
  });
});
