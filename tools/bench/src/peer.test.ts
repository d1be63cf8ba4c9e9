import { describe, expect, it } from 'vitest';
import { findPeerPython, parsePeerStep, peerStep } from './peer.js';

describe('the TensorFlow peer', () => {
  it("reads the peer script's answer and quotes anything else", () => {
    expect(parsePeerStep('{"batchSize":128,"msPerStep":9.1,"tensorflow":"2.21.0"}')).toEqual({ batchSize: 128, msPerStep: 9.1, tensorflow: '2.21.0' });
    for (const bad of [
      '',
      'Traceback (most recent call last):',
      '{"batchSize":128,"msPerStep":0,"tensorflow":"2"}',
      '{"batchSize":1.5,"msPerStep":3,"tensorflow":"2"}',
      '{"batchSize":8,"msPerStep":3}',
    ]) {
      expect(() => parsePeerStep(bad)).toThrow(`peer process answered ${JSON.stringify(bad)} instead of`);
    }
  });

  it('is skipped with a reason when the Python named cannot import tensorflow', () => {
    const found = findPeerPython({ ...process.env, DISTGAN_PEER_PYTHON: '/nonexistent/python3' });
    expect(found).toEqual({ skipped: expect.stringMatching(/^DISTGAN_PEER_PYTHON=\/nonexistent\/python3 cannot import tensorflow/) });
  });

  it("times the tutorial's graph-mode step where a Python with TensorFlow is available", (context) => {
    const found = findPeerPython();
    if ('skipped' in found) {
      // Said in the report: the bench skips the peer the same way on such a machine.
      context.skip(found.skipped);
      return;
    }
    const step = peerStep(found.python, 16, 3, 1);
    expect(step.batchSize).toBe(16);
    expect(step.msPerStep).toBeGreaterThan(0);
    expect(step.tensorflow).toMatch(/^\d+\.\d+/);
  }, 120_000);
});
