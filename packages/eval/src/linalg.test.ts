import { describe, expect, it } from 'vitest';
import { classCoverage, classifierScore, frechetDistance, meanAndCovariance, predictedClasses, sqrtPsd, symmetricEigen } from './index.js';

describe('linear algebra for the Frechet distance', () => {
  it('finds the eigenvalues of a known symmetric matrix', () => {
    // [[2,1],[1,2]] has eigenvalues 1 and 3
    const { values } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
    expect(Array.from(values).sort()).toEqual([expect.closeTo(1, 12), expect.closeTo(3, 12)]);
  });

  it('sqrtPsd(S)^2 = S', () => {
    const s = Float64Array.of(4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2);
    const r = sqrtPsd(s, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let v = 0;
        for (let k = 0; k < 3; k++) v += r[i * 3 + k]! * r[k * 3 + j]!;
        expect(v).toBeCloseTo(s[i * 3 + j]!, 10);
      }
  });

  it('is 0 for identical Gaussians and matches the 1-D closed form', () => {
    const m = Float64Array.of(1, 2);
    const s = Float64Array.of(2, 0.3, 0.3, 1);
    expect(frechetDistance(m, s, m, s, 2)).toBeCloseTo(0, 9);
    // N(0,1) vs N(1,4): (0-1)^2 + 1 + 4 - 2*sqrt(4) = 2
    expect(frechetDistance(Float64Array.of(0), Float64Array.of(1), Float64Array.of(1), Float64Array.of(4), 1)).toBeCloseTo(2, 12);
  });

  it('estimates mean and unbiased covariance', () => {
    const { mean, cov } = meanAndCovariance(Float32Array.of(1, 2, 3, 6), 2, 2);
    expect(Array.from(mean)).toEqual([2, 4]);
    expect(Array.from(cov)).toEqual([2, 4, 4, 8]);
  });
});

describe('classifier score and class coverage', () => {
  const oneHot = (classes: number[]) => {
    const p = new Float32Array(classes.length * 10);
    classes.forEach((c, r) => {
      p[r * 10 + c] = 1;
    });
    return p;
  };
  it('is 10 for confident balanced classes, 1 for one class, 1 for uniform uncertainty', () => {
    const balanced = Array.from({ length: 100 }, (_, i) => i % 10);
    expect(classifierScore(oneHot(balanced), 100)).toBeCloseTo(10, 5);
    expect(classifierScore(oneHot(new Array(100).fill(3)), 100)).toBeCloseTo(1, 6);
    expect(classifierScore(new Float32Array(1000).fill(0.1), 100)).toBeCloseTo(1, 5);
  });

  it('counts predicted classes and the largest share', () => {
    const { classCounts, maxClassShare } = classCoverage(oneHot([1, 1, 1, 2]), 4);
    expect(classCounts).toEqual([0, 3, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(maxClassShare).toBe(0.75);
  });

  it('predicts the most probable class of each row, the first of a tie', () => {
    const probs = new Float32Array(30);
    probs[7] = 0.9; // row 0: class 7
    probs[10 + 2] = 0.4; // row 1: classes 2 and 5 tie, 2 comes first
    probs[10 + 5] = 0.4;
    probs.fill(0.1, 20, 30); // row 2: all equal, class 0
    expect(Array.from(predictedClasses(probs, 3))).toEqual([7, 2, 0]);
  });
});
