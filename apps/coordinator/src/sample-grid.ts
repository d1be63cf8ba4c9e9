import { computeToArray, imageSizeOf, type GanModelConfig } from '@distgan/models';
import { defaultSampleCount, sampleNoise, type GanNetworks } from '@distgan/training';
import { PNG } from 'pngjs';

// Sample grids as PNG files: what the run directory's samples/ and npm run sample write.

export interface GridOptions {
  readonly columns?: number;
  readonly padding?: number;
  /** Pixel range of the images: mapped to 0..255 grey. */
  readonly range?: { readonly min: number; readonly max: number };
}

/** Encodes `count` square grey images (row-major floats) as one PNG grid. */
export function encodeImageGrid(images: Float32Array, count: number, side: number, options: GridOptions = {}): Buffer {
  const columns = options.columns ?? Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / columns);
  const pad = options.padding ?? 2;
  const { min, max } = options.range ?? { min: 0, max: 1 };
  const width = columns * (side + pad) + pad;
  const height = rows * (side + pad) + pad;
  const png = new PNG({ width, height });
  png.data.fill(0);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  for (let n = 0; n < count; n++) {
    const x0 = pad + (n % columns) * (side + pad);
    const y0 = pad + Math.floor(n / columns) * (side + pad);
    for (let p = 0; p < side * side; p++) {
      const value = (images[n * side * side + p]! - min) / (max - min);
      const grey = Math.round(255 * Math.min(1, Math.max(0, value)));
      const at = 4 * ((y0 + Math.floor(p / side)) * width + x0 + (p % side));
      png.data[at] = png.data[at + 1] = png.data[at + 2] = grey;
    }
  }
  return PNG.sync.write(png);
}

/**
 * `count` generated images of `model` as a PNG grid in its pixel range; a conditional model's
 * grid has one column per class (its images are drawn with the balanced code, see
 * `balancedClasses`), or one row when there are fewer images than classes.
 */
export function encodeSampleGrid(model: GanModelConfig, images: Float32Array, count: number): Buffer {
  const side = Math.round(Math.sqrt(imageSizeOf(model)));
  const columns = model.classes === undefined ? undefined : Math.min(model.classes, count);
  return encodeImageGrid(images, count, side, { range: model.pixelRange, columns });
}

/** G(z) for the fixed sample noise, as a PNG grid. */
export function renderSampleGrid(networks: GanNetworks, seed: number, count = defaultSampleCount(networks.model)): Buffer {
  const images = computeToArray(() => networks.generate(sampleNoise(networks, seed, count), count));
  return encodeSampleGrid(networks.model, images, count);
}
