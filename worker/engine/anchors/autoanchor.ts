/**
 * AutoAnchor as the reference's check_anchors / kmean_anchors (utils/autoanchor.py): the
 * labels' sizes at the training size (each image scaled so its long side is `imgsz`, with a
 * random 0.9–1.1 scale per image for the check), the best possible recall (BPR) of the current
 * anchors, and below 0.98 a re-fit: k-means on the whitened sizes (30 restarts), then 1000
 * generations of mutation keeping improvements of the fitness. The new anchors replace the old
 * only when their BPR is higher. Seeded, so every rank of a job computes the same anchors.
 * Returns the lines the reference prints (the engine does not log). The search yields to the
 * event loop every few milliseconds, so an actor keeps answering (heartbeats, fencing) while
 * it runs on a large label set.
 */
import { deriveRng, type Rng } from '../data/rng.ts';
import { anchorFit, type Sizes } from './metric.ts';
import { kmeans } from './kmeans.ts';

export const AUTOANCHOR_PREFIX = 'AutoAnchor: ';
/** BPR at or below which the anchors are re-fitted */
export const BPR_REFIT = 0.98;

const YIELD_MS = 20;
const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A label set: normalised (w, h) of each label and the original (width, height) of its image. */
export interface LabelShapes {
  /** flat [w, h] per label, normalised to the image */
  wh: Float32Array | number[];
  /** flat [width, height] of the image of each label */
  imageSize: Float32Array | number[];
  /** image index of each label (for the per-image random scale) */
  image: Int32Array | number[];
  images: number;
}

/** Label sizes in pixels at `imgsz` (long side), times `scale[image]` when given. */
export function pixelSizes(l: LabelShapes, imgsz: number, scale?: ArrayLike<number>): Float64Array {
  const n = l.wh.length / 2,
    out = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    const w = l.imageSize[2 * i],
      h = l.imageSize[2 * i + 1],
      g = (imgsz / Math.max(w, h)) * (scale ? scale[l.image[i]] : 1);
    out[2 * i] = l.wh[2 * i] * w * g;
    out[2 * i + 1] = l.wh[2 * i + 1] * h * g;
  }
  return out;
}

function fmt(k: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let j = 0; j < k.length; j += 2) parts.push(`${Math.round(k[j])},${Math.round(k[j + 1])}`);
  return parts.join(', ');
}

/** Sorts anchors (flat pairs) by area, small to large. */
export function sortByArea(k: ArrayLike<number>): Float64Array {
  const pairs = Array.from({ length: k.length / 2 }, (_, j) => [k[2 * j], k[2 * j + 1]]);
  pairs.sort((a, b) => a[0] * a[1] - b[0] * b[1]);
  return Float64Array.from(pairs.flat());
}

export interface KmeanOptions {
  n: number;
  imgsz: number;
  /** anchor_t, default 4 */
  thr?: number;
  /** generations, default 1000 */
  gen?: number;
  rng: Rng;
  lines?: string[];
}

/** kmean_anchors: `n` anchors (pixels, flat pairs sorted by area) evolved for the labels. */
export async function kmeanAnchors(l: LabelShapes, o: KmeanOptions): Promise<Float64Array> {
  const thr = o.thr ?? 4,
    t = 1 / thr,
    gen = o.gen ?? 1000,
    rng = o.rng,
    lines = o.lines ?? [];
  const wh0 = pixelSizes(l, o.imgsz);
  const n0 = wh0.length / 2;
  let small = 0;
  for (let i = 0; i < n0; i++) if (wh0[2 * i] < 3 || wh0[2 * i + 1] < 3) small++;
  if (small) lines.push(`${AUTOANCHOR_PREFIX}WARNING ⚠️ Extremely small objects found: ${small} of ${n0} labels are <3 pixels in size`);
  const kept: number[] = [];
  for (let i = 0; i < n0; i++) if (wh0[2 * i] >= 2 || wh0[2 * i + 1] >= 2) kept.push(Math.fround(wh0[2 * i]), Math.fround(wh0[2 * i + 1]));
  const wh = Float64Array.from(kept);
  const m = wh.length / 2;
  let k: Float64Array;
  lines.push(`${AUTOANCHOR_PREFIX}Running kmeans for ${o.n} anchors on ${m} points...`);
  const sd = [0, 1].map((c) => {
    let s = 0,
      s2 = 0;
    for (let i = 0; i < m; i++) {
      s += wh[2 * i + c];
      s2 += wh[2 * i + c] ** 2;
    }
    return Math.sqrt(Math.max(s2 / m - (s / m) ** 2, 0));
  });
  const whitened = wh.map((v, i) => v / sd[i % 2]);
  const km = o.n <= m && sd[0] > 0 && sd[1] > 0 ? await kmeans(whitened, 2, o.n, rng, 30) : null;
  if (km && km.centroids.length === 2 * o.n) {
    k = km.centroids.map((v, i) => v * sd[i % 2]);
  } else {
    lines.push(`${AUTOANCHOR_PREFIX}WARNING ⚠️ switching strategies from kmeans to random init`);
    k = Float64Array.from({ length: 2 * o.n }, () => rng.random() * o.imgsz).sort();
  }
  k = sortByArea(k);
  // the mutation fitness is computed in float32 in the reference (torch tensors)
  const fitness = (a: Float64Array) => anchorFit(wh, Float32Array.from(a), thr).fitness;
  let f = fitness(k);
  const mp = 0.9,
    s = 0.1;
  let slice = performance.now();
  for (let g = 0; g < gen; g++) {
    if (performance.now() - slice > YIELD_MS) {
      await yieldNow();
      slice = performance.now();
    }
    const v = new Float64Array(k.length).fill(1);
    while (v.every((x) => x === 1)) {
      const r = rng.random();
      for (let i = 0; i < v.length; i++) v[i] = Math.min(3, Math.max(0.3, (rng.random() < mp ? 1 : 0) * r * rng.normal() * s + 1));
    }
    const kg = k.map((x, i) => Math.max(x * v[i], 2));
    const fg = fitness(kg);
    if (fg > f) {
      f = fg;
      k = kg;
    }
  }
  k = sortByArea(k);
  const fit = anchorFit(Float32Array.from(wh0), Float32Array.from(k), thr);
  lines.push(
    `${AUTOANCHOR_PREFIX}thr=${t.toFixed(2)}: ${fit.bpr.toFixed(4)} best possible recall, ${(fit.aat).toFixed(2)} anchors past thr`,
  );
  lines.push(
    `${AUTOANCHOR_PREFIX}n=${o.n}, img_size=${o.imgsz}, metric_all=${fit.allMean.toFixed(3)}/${fit.bestMean.toFixed(3)}-mean/best, past_thr=${fit.pastThrMean.toFixed(3)}-mean: ${fmt(k)}`,
  );
  return Float64Array.from(k, (x) => Math.fround(x));
}

export interface CheckAnchorsResult {
  /** anchors in pixels per level [nl][na][2] to use (the old ones when not replaced) */
  anchors: number[][][];
  replaced: boolean;
  bpr: number;
  aat: number;
  /** BPR of the new anchors, when a re-fit ran */
  newBpr?: number;
  lines: string[];
}

/**
 * check_anchors: `anchorsPx` [nl][na][2] in pixels (grid anchors × stride), ordered like the
 * strides. Re-fits below {@link BPR_REFIT}; new anchors are ordered by area onto the levels
 * (check_anchor_order for increasing strides).
 */
export async function checkAnchors(
  l: LabelShapes,
  anchorsPx: number[][][],
  o: { imgsz: number; thr?: number; seed: number; gen?: number },
): Promise<CheckAnchorsResult> {
  const thr = o.thr ?? 4,
    rng = deriveRng(o.seed, 0xa0c4);
  const scale = Float64Array.from({ length: l.images }, () => rng.uniform(0.9, 1.1));
  const wh = Float32Array.from(pixelSizes(l, o.imgsz, scale));
  const cur = Float32Array.from(anchorsPx.flat(2));
  const fit = anchorFit(wh, cur, thr);
  const lines: string[] = [];
  const head = `${AUTOANCHOR_PREFIX}${fit.aat.toFixed(2)} anchors/target, ${fit.bpr.toFixed(3)} Best Possible Recall (BPR). `;
  if (fit.bpr > BPR_REFIT) {
    lines.push(`${head}Current anchors are a good fit to dataset ✅`);
    return { anchors: anchorsPx, replaced: false, bpr: fit.bpr, aat: fit.aat, lines };
  }
  lines.push(`${head}Anchors are a poor fit to dataset ⚠️, attempting to improve...`);
  const nl = anchorsPx.length,
    na = anchorsPx[0].length;
  const k = await kmeanAnchors(l, { n: nl * na, imgsz: o.imgsz, thr, gen: o.gen, rng, lines });
  const newBpr = anchorFit(wh, Float32Array.from(k), thr).bpr;
  if (!(newBpr > fit.bpr)) {
    lines.push(`${AUTOANCHOR_PREFIX}Done ⚠️ (original anchors better than new anchors, proceeding with original anchors)`);
    return { anchors: anchorsPx, replaced: false, bpr: fit.bpr, aat: fit.aat, newBpr, lines };
  }
  lines.push(`${AUTOANCHOR_PREFIX}Done ✅ (optional: update model *.yaml to use these anchors in the future)`);
  const anchors = Array.from({ length: nl }, (_, i) =>
    Array.from({ length: na }, (_, a) => [k[2 * (i * na + a)], k[2 * (i * na + a) + 1]]),
  );
  return { anchors, replaced: true, bpr: fit.bpr, aat: fit.aat, newBpr, lines };
}
