/**
 * train.py --image-weights: each epoch draws the training images with replacement, an image's
 * weight being the sum over its labels of its class's weight, and a class's weight rising with
 * how rare it is and how badly it was detected at the last validation.
 */
import { deriveRng } from './rng.ts';

/** Stream key of the weighted draw (apart from the permutation and augmentation streams). */
const IMAGE_WEIGHTS_KEY = 0x1a6e;

/** Class ids of one image's labels: rows [cls, xc, yc, w, h]. */
function classesOf(rows: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 < rows.length; i += 5) out.push(Math.trunc(rows[i]));
  return out;
}

/** train.py labels_to_class_weights: 1/count per class (empty classes count 1), normalised to sum 1. */
export function classWeights(labels: ReadonlyArray<ArrayLike<number>>, nc: number): Float64Array {
  const count = new Float64Array(nc);
  for (const rows of labels) for (const c of classesOf(rows)) if (c >= 0 && c < nc) count[c]++;
  let sum = 0;
  for (let c = 0; c < nc; c++) {
    count[c] = 1 / (count[c] || 1);
    sum += count[c];
  }
  for (let c = 0; c < nc; c++) count[c] /= sum;
  return count;
}

/**
 * train.py's per-epoch class weights: model.class_weights (classWeights·nc) · (1 − maps)² / nc,
 * `maps` the per-class mAP@0.5:0.95 of the last validation (zeros before the first).
 */
export function epochClassWeights(labels: ReadonlyArray<ArrayLike<number>>, nc: number, maps?: ArrayLike<number>): Float64Array {
  const cw = classWeights(labels, nc);
  for (let c = 0; c < nc; c++) {
    const m = maps?.[c] ?? 0;
    cw[c] = (cw[c] * nc * (1 - m) ** 2) / nc;
  }
  return cw;
}

/** train.py labels_to_image_weights: per image, Σ over its labels of their class weight (no labels: 0). */
export function imageWeights(labels: ReadonlyArray<ArrayLike<number>>, cw: ArrayLike<number>): Float64Array {
  const out = new Float64Array(labels.length);
  labels.forEach((rows, i) => {
    let s = 0;
    for (const c of classesOf(rows)) if (c >= 0 && c < cw.length) s += cw[c];
    out[i] = s;
  });
  return out;
}

/**
 * `k` indices drawn with replacement with probability proportional to `weights` (Python's
 * random.choices: cumulative weights, first index whose sum exceeds u·total), seeded by
 * (seed, epoch) so every rank draws the same list. All-zero weights (no image has a label) draw uniformly.
 */
export function weightedDraw(weights: ArrayLike<number>, k: number, seed: number, epoch: number): Uint32Array {
  const n = weights.length;
  const cum = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`image weight ${i} is ${w}: weights must be finite and >= 0`);
    total += w;
    cum[i] = total;
  }
  const rng = deriveRng(seed, IMAGE_WEIGHTS_KEY, epoch);
  const out = new Uint32Array(k);
  for (let j = 0; j < k; j++) {
    if (total <= 0) {
      out[j] = rng.int(n);
      continue;
    }
    const u = rng.random() * total;
    let lo = 0,
      hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    out[j] = lo;
  }
  return out;
}
