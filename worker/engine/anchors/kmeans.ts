/**
 * k-means as scipy.cluster.vq.kmeans(obs, k, iter): `iter` restarts from k distinct
 * observations drawn at random; each run alternates nearest-centroid assignment (Euclidean)
 * and centroid means until the mean distance changes by at most `thresh`, dropping centroids
 * left without members; the run with the lowest mean distance wins.
 */
import type { Rng } from '../data/rng.ts';

export interface KmeansResult {
  /** centroids, flat [c0x, c0y, …] (may be fewer than k when clusters emptied) */
  centroids: Float64Array;
  /** mean Euclidean distance of the observations to their nearest centroid */
  distortion: number;
}

/** Nearest centroid of every point and the mean distance (scipy's vq). */
export function assign(points: ArrayLike<number>, dim: number, centroids: ArrayLike<number>): { code: Int32Array; distortion: number } {
  const n = points.length / dim,
    k = centroids.length / dim;
  const code = new Int32Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let best = Infinity,
      bj = 0;
    for (let j = 0; j < k; j++) {
      let d = 0;
      for (let c = 0; c < dim; c++) {
        const v = points[i * dim + c] - centroids[j * dim + c];
        d += v * v;
      }
      if (d < best) {
        best = d;
        bj = j;
      }
    }
    code[i] = bj;
    total += Math.sqrt(best);
  }
  return { code, distortion: total / Math.max(n, 1) };
}

function run(points: ArrayLike<number>, dim: number, guess: Float64Array, thresh: number): KmeansResult {
  let book = guess;
  let prev = Infinity,
    diff = Infinity,
    last = Infinity;
  while (diff > thresh) {
    const { code, distortion } = assign(points, dim, book);
    const k = book.length / dim;
    const sums = new Float64Array(k * dim),
      counts = new Float64Array(k);
    for (let i = 0; i < code.length; i++) {
      counts[code[i]]++;
      for (let c = 0; c < dim; c++) sums[code[i] * dim + c] += points[i * dim + c];
    }
    const kept: number[] = [];
    for (let j = 0; j < k; j++) if (counts[j] > 0) for (let c = 0; c < dim; c++) kept.push(sums[j * dim + c] / counts[j]);
    book = Float64Array.from(kept);
    diff = Math.abs(prev - distortion);
    prev = distortion;
    last = distortion;
  }
  return { centroids: book, distortion: last };
}

/** k-means with `iter` random restarts (scipy's defaults: iter 20, thresh 1e-5); yields to the event loop between restarts. */
export async function kmeans(points: ArrayLike<number>, dim: number, k: number, rng: Rng, iter = 20, thresh = 1e-5): Promise<KmeansResult> {
  const n = points.length / dim;
  if (k > n) throw new RangeError(`kmeans: ${k} clusters from ${n} points`);
  let best: KmeansResult = { centroids: new Float64Array(0), distortion: Infinity };
  for (let r = 0; r < iter; r++) {
    const pick = rng.permutation(n).subarray(0, k);
    const guess = new Float64Array(k * dim);
    pick.forEach((p, j) => {
      for (let c = 0; c < dim; c++) guess[j * dim + c] = points[p * dim + c];
    });
    const res = run(points, dim, guess, thresh);
    await new Promise((r) => setImmediate(r));
    if (res.distortion < best.distortion) best = res;
  }
  return best;
}
