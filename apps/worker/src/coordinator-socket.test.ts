import { CLOSE_TRAINING_DONE, PROTOCOL_ERRORS } from '@distgan/protocol';
import { describe, expect, it } from 'vitest';
import { closeVerdict, ReconnectBackoff } from './coordinator-socket.js';

describe('closeVerdict', () => {
  it("ends on the coordinator's training-done close of an open connection, with its reason or a default", () => {
    expect(closeVerdict(CLOSE_TRAINING_DONE, 'finished', true)).toEqual({ kind: 'done', reason: 'finished' });
    expect(closeVerdict(CLOSE_TRAINING_DONE, '', true)).toEqual({ kind: 'done', reason: 'coordinator closed the connection' });
    // Before the connection opened it cannot be the coordinator's end of training: try again.
    expect(closeVerdict(CLOSE_TRAINING_DONE, 'finished', false)).toEqual({ kind: 'reconnect', lost: false });
  });

  it('gives up on the refusals that reconnecting cannot help, and reconnects after anything else', () => {
    for (const code of ['PROTOCOL_MISMATCH', 'CONFIG_MISMATCH', 'DATASET_MISMATCH'] as const) {
      expect(closeVerdict(PROTOCOL_ERRORS[code].closeCode, 'why', true)).toEqual({ kind: 'fatal', code, reason: 'why' });
    }
    expect(closeVerdict(PROTOCOL_ERRORS.BAD_FRAME.closeCode, 'bad', true)).toEqual({ kind: 'reconnect', lost: true });
    expect(closeVerdict(1006, '', true)).toEqual({ kind: 'reconnect', lost: true });
    expect(closeVerdict(1006, '', false)).toEqual({ kind: 'reconnect', lost: false });
  });
});

describe('ReconnectBackoff', () => {
  it('doubles its delay from 0.25 s up to 5 s, and starts again once connected', () => {
    const backoff = new ReconnectBackoff();
    expect(Array.from({ length: 7 }, () => backoff.next())).toEqual([250, 500, 1_000, 2_000, 4_000, 5_000, 5_000]);
    backoff.connected();
    expect(backoff.next()).toBe(250);
  });
});
