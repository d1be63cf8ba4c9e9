import { describe, expect, it } from 'vitest';
import { localWorkerEnv, tensorFlowThreads } from './local-workers.js';

describe('local workers share the cores', () => {
  it("sizes each worker's TensorFlow pools to its share of the cores, and keeps what the user set", () => {
    expect(tensorFlowThreads(2, 2, {})).toEqual({ TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' });
    expect(tensorFlowThreads(2, 16, {})).toEqual({ TF_NUM_INTRAOP_THREADS: '8', TF_NUM_INTEROP_THREADS: '1' });
    expect(tensorFlowThreads(3, 2, {})).toEqual({ TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' });
    expect(tensorFlowThreads(2, 2, { TF_NUM_INTRAOP_THREADS: '4', TF_NUM_INTEROP_THREADS: '2' })).toEqual({
      TF_NUM_INTRAOP_THREADS: '4',
      TF_NUM_INTEROP_THREADS: '2',
    });
    expect(localWorkerEnv({ PATH: '/bin' }, 1, 4, 'secret')).toEqual({
      PATH: '/bin',
      TF_NUM_INTRAOP_THREADS: '4',
      TF_NUM_INTEROP_THREADS: '1',
      DISTGAN_TOKEN: 'secret',
      DISTGAN_LOG_FORMAT: 'text', // the coordinator's own format, which its workers follow
    });
  });
});
