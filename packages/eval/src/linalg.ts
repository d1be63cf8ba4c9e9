/** Dense symmetric-matrix helpers for the Frechet distance (small d, float64, row-major). */

/** Eigenvalues and eigenvectors of a symmetric matrix by cyclic Jacobi rotations. */
export function symmetricEigen(matrix: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * d + q]! - a[p * d + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p]!;
          const akq = a[k * d + q]!;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k]!;
          const aqk = a[q * d + k]!;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!;
          const vkq = v[k * d + q]!;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = a[i * d + i]!;
  return { values, vectors: v };
}

export function matMul(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j]! += aik * b[k * d + j]!;
    }
  return out;
}

/** The PSD square root of a symmetric PSD matrix (negative eigenvalues from rounding clamp to 0). */
export function sqrtPsd(matrix: Float64Array, d: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const root = Math.sqrt(Math.max(0, values[k]!));
    if (root === 0) continue;
    for (let i = 0; i < d; i++) {
      const vik = vectors[i * d + k]! * root;
      for (let j = 0; j < d; j++) out[i * d + j]! += vik * vectors[j * d + k]!;
    }
  }
  return out;
}

/** Mean vector and covariance (divided by n-1) of n rows of d features. */
export function meanAndCovariance(rows: Float32Array, n: number, d: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j]! += rows[r * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  const cov = new Float64Array(d * d);
  const centered = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) centered[j] = rows[r * d + j]! - mean[j]!;
    for (let i = 0; i < d; i++) {
      const ci = centered[i]!;
      for (let j = i; j < d; j++) cov[i * d + j]! += ci * centered[j]!;
    }
  }
  for (let i = 0; i < d; i++)
    for (let j = i; j < d; j++) {
      const v = cov[i * d + j]! / Math.max(1, n - 1);
      cov[i * d + j] = v;
      cov[j * d + i] = v;
    }
  return { mean, cov };
}

/**
 * Frechet distance between Gaussians N(m1, S1) and N(m2, S2):
 * |m1-m2|^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrt(S1^1/2 S2 S1^1/2)).
 */
export function frechetDistance(m1: Float64Array, s1: Float64Array, m2: Float64Array, s2: Float64Array, d: number): number {
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (m1[i]! - m2[i]!) ** 2;
  let trace = 0;
  for (let i = 0; i < d; i++) trace += s1[i * d + i]! + s2[i * d + i]!;
  const root1 = sqrtPsd(s1, d);
  const middle = matMul(matMul(root1, s2, d), root1, d);
  // symmetrise against rounding before the eigen-decomposition
  for (let i = 0; i < d; i++)
    for (let j = i + 1; j < d; j++) {
      const v = (middle[i * d + j]! + middle[j * d + i]!) / 2;
      middle[i * d + j] = v;
      middle[j * d + i] = v;
    }
  const { values } = symmetricEigen(middle, d);
  let traceRoot = 0;
  for (const v of values) traceRoot += Math.sqrt(Math.max(0, v));
  return Math.max(0, meanTerm + trace - 2 * traceRoot);
}
