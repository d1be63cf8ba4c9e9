/** Pixel-level alterations of 28x28 MNIST-sized images (values in [0, 1]), for the quality tools. */
const SIDE = 28;

/** 3x3 blur: the centre pixel weighs 1, each neighbour `weight` (borders use the pixels they have). */
export function blur(images: Float32Array, n: number, weight: number): Float32Array {
  const out = new Float32Array(images.length);
  for (let k = 0; k < n; k++) {
    const base = k * SIDE * SIDE;
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        let sum = 0;
        let total = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= SIDE || xx < 0 || xx >= SIDE) continue;
            const w = dy === 0 && dx === 0 ? 1 : weight;
            sum += w * images[base + yy * SIDE + xx]!;
            total += w;
          }
        }
        out[base + y * SIDE + x] = sum / total;
      }
    }
  }
  return out;
}
