import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCoordinatorMessage, decodeWorkerMessage, encodeMessage, PROTOCOL_ERRORS } from './index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The README's example frames: each hex block after a `<!-- frame: worker|coordinator -->` marker. */
function exampleFrames(): { sender: 'worker' | 'coordinator'; bytes: Uint8Array }[] {
  const blocks = [...readme.matchAll(/<!-- frame: (worker|coordinator) -->\s*```\n([\s\S]*?)```/g)];
  return blocks.map(([, sender, hex]) => ({
    sender: sender as 'worker' | 'coordinator',
    bytes: Uint8Array.from(hex!.trim().split(/\s+/), (b) => parseInt(b, 16)),
  }));
}

describe('the specification in README.md', () => {
  it('has example frames that decode and validate with the codec, and that the codec encodes to the same bytes', () => {
    const frames = exampleFrames();
    expect(frames.map((f) => f.sender)).toEqual(['worker', 'coordinator', 'worker']);
    for (const { sender, bytes } of frames) {
      const message = sender === 'worker' ? decodeWorkerMessage(bytes, { dParams: 2, gParams: 3 }) : decodeCoordinatorMessage(bytes);
      expect(Array.from(encodeMessage(message))).toEqual(Array.from(bytes));
    }
    const result = decodeWorkerMessage(frames[2]!.bytes, { dParams: 2, gParams: 3 });
    expect(result).toMatchObject({ type: 'result', step: 7, phase: 'D', shard: 1, lossSum: 1.5, dRealSum: 0.25, dFakeSum: 0.75, computeMs: 12, cpuMs: 20 });
    expect(Array.from((result as { gradient: Float32Array }).gradient)).toEqual([1, -2]);
    expect(frames[2]!.bytes.indexOf(0xc4) + 2).toBe(124); // the gradient's offset the worked example gives
    expect(frames[0]!.bytes.length).toBe(82);
  });

  it('lists every close code of the error table', () => {
    for (const [code, { closeCode }] of Object.entries(PROTOCOL_ERRORS)) expect(readme).toContain(`| ${closeCode} | \`${code}\` |`);
  });
});
