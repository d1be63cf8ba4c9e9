import * as tf from '@tensorflow/tfjs';
import { classConditional } from '@distgan/models';
import { selectBackend } from '@distgan/runtime';
import { GanNetworks, makeRunConfig, TrainingState, type RunConfig } from '@distgan/training';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeImageGrid, renderSampleGrid } from './sample-grid.js';

beforeAll(async () => {
  await selectBackend();
});

/** The grid of `config`'s G at its initial weights, and whether rendering it leaked tensors. */
function gridOf(config: RunConfig): { png: PNG; leaked: number } {
  const networks = new GanNetworks(config.model);
  networks.load('G', 0, new TrainingState(config).gWeights);
  const before = tf.memory().numTensors;
  const png = PNG.sync.read(renderSampleGrid(networks, config.seed));
  const leaked = tf.memory().numTensors - before;
  networks.dispose();
  return { png, leaked };
}

describe('sample grids', () => {
  it('render an 8x8 PNG grid of generated digits, leaking no tensors', () => {
    const { png, leaked } = gridOf(makeRunConfig('tiny'));
    expect(leaked).toBe(0);
    expect([png.width, png.height]).toEqual([8 * 30 + 2, 8 * 30 + 2]);
  });

  it('render one column per class for a class-conditional model', () => {
    const tiny = makeRunConfig('tiny');
    const { png, leaked } = gridOf({ ...tiny, model: classConditional(tiny.model, 10) });
    expect(leaked).toBe(0);
    expect([png.width, png.height]).toEqual([10 * 30 + 2, 10 * 30 + 2]);
  });

  it('map the pixel range to grey levels, clamping what lies outside it', () => {
    const png = PNG.sync.read(encodeImageGrid(Float32Array.of(-1, 0, 1, 2), 1, 2, { range: { min: -1, max: 1 }, padding: 0 }));
    expect([png.width, png.height]).toEqual([2, 2]);
    expect([0, 1, 2, 3].map((p) => png.data[4 * p])).toEqual([0, 128, 255, 255]);
  });
});
