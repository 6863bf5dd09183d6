/**
 * Per-class precision, recall, F1 and average precision (YOLOv5 ap_per_class), in float64.
 */

/** Metrics of one class that has labels. */
export interface ClassMetrics {
  /** class id */
  readonly cls: number;
  /** number of labels */
  readonly labels: number;
  /** precision, recall and F1 at the confidence of maximal smoothed mean F1 */
  readonly p: number;
  readonly r: number;
  readonly f1: number;
  /** AP at each IoU threshold (101-point interpolation) */
  readonly ap: readonly number[];
  /** round(r · labels) and round(tp / p − tp), as the reference reports them */
  readonly tp: number;
  readonly fp: number;
}

const EPS = 1e-16;

/**
 * The curves behind the numbers (what the reference plots), filled by {@link apPerClass} when
 * asked: on the confidence grid `px` (0..1, 1000 points) each class's precision, recall and F1
 * (IoU 0.5), and on the same grid as recall, the class's interpolated precision envelope.
 */
export interface MetricCurves {
  /** the grid: confidence for p/r/f1, recall for pr */
  readonly px: Float64Array;
  /** class ids in order of the rows below */
  readonly classes: number[];
  readonly p: Float64Array[];
  readonly r: Float64Array[];
  readonly f1: Float64Array[];
  /** precision at recall px (IoU 0.5) */
  readonly pr: Float64Array[];
  /** AP@0.5 of each class */
  readonly ap50: number[];
}

/**
 * @param tp n×T true-positive flags (row-major), as from matchDetections over all images
 * @param conf n confidences
 * @param predCls n predicted class ids
 * @param targetCls the class id of every label
 * @returns one entry per class with labels, ascending class id
 */
export function apPerClass(
  tp: ArrayLike<number>,
  conf: ArrayLike<number>,
  predCls: ArrayLike<number>,
  targetCls: ArrayLike<number>,
  curves?: { value?: MetricCurves },
): ClassMetrics[] {
  const n = conf.length;
  const nt = n ? tp.length / n : 0;
  const T = n ? nt : 10;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => conf[b] - conf[a] || a - b);
  const counts = new Map<number, number>();
  for (let i = 0; i < targetCls.length; i++) counts.set(targetCls[i], (counts.get(targetCls[i]) ?? 0) + 1);
  const classes = [...counts.keys()].sort((a, b) => a - b);
  const px = linspace(0, 1, 1000);
  const pCurves: Float64Array[] = [],
    rCurves: Float64Array[] = [],
    aps: number[][] = [],
    prCurves: Float64Array[] = [];
  for (const c of classes) {
    const nl = counts.get(c) as number;
    const idx = order.filter((i) => predCls[i] === c);
    const pc = new Float64Array(1000),
      rc = new Float64Array(1000);
    const ap = new Array<number>(T).fill(0);
    if (idx.length > 0) {
      const negConf = idx.map((i) => -conf[i]);
      const recall: number[][] = [],
        precision: number[][] = [];
      for (let j = 0; j < T; j++) {
        let tpc = 0,
          fpc = 0;
        const rj: number[] = [],
          pj: number[] = [];
        for (const i of idx) {
          if (tp[i * nt + j]) tpc++;
          else fpc++;
          rj.push(tpc / (nl + EPS));
          pj.push(tpc / (tpc + fpc));
        }
        recall.push(rj);
        precision.push(pj);
        ap[j] = computeAp(rj, pj);
        if (j === 0 && curves) prCurves.push(envelopeOn(px, rj, pj));
      }
      for (let k = 0; k < 1000; k++) {
        rc[k] = interp(-px[k], negConf, recall[0], 0);
        pc[k] = interp(-px[k], negConf, precision[0], 1);
      }
    }
    if (idx.length === 0 && curves) prCurves.push(new Float64Array(1000));
    pCurves.push(pc);
    rCurves.push(rc);
    aps.push(ap);
  }
  const meanF1 = new Float64Array(1000);
  const f1Curves = pCurves.map((pc, ci) => pc.map((p, k) => (2 * p * rCurves[ci][k]) / (p + rCurves[ci][k] + EPS)));
  for (let k = 0; k < 1000; k++) {
    let s = 0;
    for (const f of f1Curves) s += f[k];
    meanF1[k] = classes.length ? s / classes.length : 0;
  }
  const best = argmax(smooth(meanF1, 0.1));
  if (curves) curves.value = { px, classes, p: pCurves, r: rCurves, f1: f1Curves, pr: prCurves, ap50: aps.map((a) => a[0]) };
  return classes.map((c, ci) => {
    const p = pCurves[ci][best],
      r = rCurves[ci][best],
      labels = counts.get(c) as number;
    const tpN = roundHalfEven(r * labels);
    return { cls: c, labels, p, r, f1: f1Curves[ci][best], ap: aps[ci], tp: tpN, fp: roundHalfEven(tpN / (p + EPS) - tpN) };
  });
}

/** The precision envelope of one recall/precision curve sampled at recall `x` (for the PR plot). */
function envelopeOn(x: Float64Array, recall: readonly number[], precision: readonly number[]): Float64Array {
  const mrec = [0, ...recall, 1];
  const mpre = [1, ...precision, 0];
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]);
  return x.map((v) => interp(v, mrec, mpre));
}

/** AP as the 101-point interpolated area under the precision envelope of one recall/precision curve. */
export function computeAp(recall: readonly number[], precision: readonly number[]): number {
  const mrec = [0, ...recall, 1];
  const mpre = [1, ...precision, 0];
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]);
  const x = linspace(0, 1, 101);
  let area = 0,
    prev = interp(x[0], mrec, mpre);
  for (let i = 1; i < x.length; i++) {
    const y = interp(x[i], mrec, mpre);
    area += ((x[i] - x[i - 1]) * (y + prev)) / 2;
    prev = y;
  }
  return area;
}

/**
 * Piecewise-linear interpolation with numpy.interp's rules for non-decreasing xp with repeats:
 * the segment starts at the last xp[j] ≤ x; below xp[0] gives `left`, above the end gives `right`.
 */
export function interp(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>, left?: number, right?: number): number {
  const n = xp.length;
  if (x < xp[0]) return left ?? fp[0];
  if (x > xp[n - 1]) return right ?? fp[n - 1];
  let lo = 0,
    hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x >= xp[mid]) lo = mid + 1;
    else hi = mid;
  }
  const j = lo - 1;
  if (j === n - 1 || xp[j] === x) return fp[j];
  return ((fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])) * (x - xp[j]) + fp[j];
}

/** n evenly spaced values from a to b inclusive (numpy.linspace). */
export function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const step = (b - a) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = a + i * step;
  out[n - 1] = b;
  return out;
}

/**
 * Box filter of fraction f (YOLOv5 smooth): nf = round(2·n·f) // 2 + 1 taps (odd for the
 * 1000-point curves), the ends padded with nf // 2 copies of the end values, 'valid' convolution.
 */
export function smooth(y: ArrayLike<number>, f = 0.05): Float64Array {
  const n = y.length;
  const nf = Math.floor(roundHalfEven(n * f * 2) / 2) + 1;
  const pad = Math.floor(nf / 2);
  const yp = new Float64Array(n + 2 * pad);
  for (let i = 0; i < yp.length; i++) yp[i] = y[Math.min(n - 1, Math.max(0, i - pad))];
  const w = 1 / nf;
  const out = new Float64Array(yp.length - nf + 1);
  for (let k = 0; k < out.length; k++) {
    let s = 0;
    for (let m = 0; m < nf; m++) s += yp[k + m] * w;
    out[k] = s;
  }
  return out;
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** numpy.round: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
