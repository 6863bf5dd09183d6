/** Multi-label, class-aware greedy non-maximum suppression, as YOLOv5 validation runs it. */
import type * as tf from '@tensorflow/tfjs';

/** Rows [x1, y1, x2, y2, conf, cls] (6 floats per detection), descending conf. */
export type Detections = Float32Array;

/** Options of {@link nonMaxSuppression}. */
export interface NmsOptions {
  /** candidates need obj > confThres and obj·cls_prob > confThres; default 0.001 */
  readonly confThres?: number;
  /** a box is suppressed by a kept box of its class when IoU > iouThres; default 0.6 */
  readonly iouThres?: number;
  /** every (box, class) pair above confThres is a candidate (else only the best class); default true, forced off when nc = 1 */
  readonly multiLabel?: boolean;
  /** detections kept per image; default 300 */
  readonly maxDet?: number;
  /** keep only these class ids; default all */
  readonly classes?: ReadonlyArray<number>;
  /** suppress across classes; default false */
  readonly agnostic?: boolean;
  /** candidates sorted into NMS per image (the highest-conf ones); default 30000 */
  readonly maxNms?: number;
  /** [batch, N, 5 + nc]; required when pred is a bare Float32Array */
  readonly shape?: readonly [number, number, number];
}

/**
 * NMS over decoded predictions [B, N, 5 + nc] rows [xc, yc, w, h (pixels), obj, cls_prob…].
 * conf = obj·cls_prob (float32). Returns per image the kept detections, descending conf.
 */
export function nonMaxSuppression(pred: Float32Array | tf.Tensor3D, opts: NmsOptions = {}): Detections[] {
  let data: Float32Array, shape: readonly number[];
  if (pred instanceof Float32Array) {
    if (!opts.shape) throw new Error('nonMaxSuppression: a Float32Array input needs opts.shape [batch, N, 5 + nc]');
    data = pred;
    shape = opts.shape;
    if (data.length !== shape[0] * shape[1] * shape[2])
      throw new Error(`nonMaxSuppression: ${data.length} values for shape ${shape.join('x')}`);
  } else {
    data = pred.dataSync() as Float32Array;
    shape = pred.shape;
  }
  const [batch, n, no] = shape;
  const nc = no - 5;
  if (nc < 1) throw new Error(`nonMaxSuppression: rows of ${no} values have no class columns`);
  const o = {
    confThres: opts.confThres ?? 0.001,
    iouThres: opts.iouThres ?? 0.6,
    multiLabel: (opts.multiLabel ?? true) && nc > 1,
    maxDet: opts.maxDet ?? 300,
    classes: opts.classes ? new Set(opts.classes) : null,
    agnostic: opts.agnostic ?? false,
    maxNms: opts.maxNms ?? 30000,
  };
  const out: Detections[] = [];
  for (let b = 0; b < batch; b++) out.push(nmsImage(data.subarray(b * n * no, (b + 1) * n * no), n, no, nc, o));
  return out;
}

interface Resolved {
  confThres: number;
  iouThres: number;
  multiLabel: boolean;
  maxDet: number;
  classes: Set<number> | null;
  agnostic: boolean;
  maxNms: number;
}

function nmsImage(x: Float32Array, n: number, no: number, nc: number, o: Resolved): Detections {
  // Candidates (row, class, conf) in row-major (box, class) order, in typed arrays: an untrained
  // model at conf 0.001 can yield millions of them.
  let count = 0;
  for (let r = 0; r < n; r++) if (x[r * no + 4] > o.confThres) count += o.multiLabel ? nc : 1;
  const rowsA = new Int32Array(count),
    clsA = new Int32Array(count),
    confA = new Float32Array(count);
  let m = 0;
  for (let r = 0; r < n; r++) {
    const obj = x[r * no + 4];
    if (!(obj > o.confThres)) continue;
    if (o.multiLabel) {
      for (let c = 0; c < nc; c++) {
        const s = Math.fround(x[r * no + 5 + c] * obj);
        if (s > o.confThres && (!o.classes || o.classes.has(c))) {
          rowsA[m] = r;
          clsA[m] = c;
          confA[m] = s;
          m++;
        }
      }
    } else {
      let best = 0,
        bs = Math.fround(x[r * no + 5] * obj);
      for (let c = 1; c < nc; c++) {
        const s = Math.fround(x[r * no + 5 + c] * obj);
        if (s > bs) {
          bs = s;
          best = c;
        }
      }
      if (bs > o.confThres && (!o.classes || o.classes.has(best))) {
        rowsA[m] = r;
        clsA[m] = best;
        confA[m] = bs;
        m++;
      }
    }
  }
  // Only the maxNms most confident go into NMS: find the cut by selection, not by sorting all.
  const cut = m > o.maxNms ? kthLargest(confA.slice(0, m), o.maxNms) : -Infinity;
  const sel: number[] = [];
  for (let i = 0; i < m; i++) if (confA[i] >= cut) sel.push(i);
  sel.sort((p, q) => confA[q] - confA[p] || p - q);
  const order = sel.slice(0, o.maxNms);
  const rows = order.map((i) => rowsA[i]),
    cls = order.map((i) => clsA[i]),
    conf = order.map((i) => confA[i]);
  const k = order.length;
  const bx = new Float64Array(k * 4),
    area = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const r = rows[i];
    const xc = x[r * no],
      yc = x[r * no + 1],
      w = x[r * no + 2],
      h = x[r * no + 3];
    bx[i * 4] = Math.fround(xc - w / 2);
    bx[i * 4 + 1] = Math.fround(yc - h / 2);
    bx[i * 4 + 2] = Math.fround(xc + w / 2);
    bx[i * 4 + 3] = Math.fround(yc + h / 2);
    area[i] = (bx[i * 4 + 2] - bx[i * 4]) * (bx[i * 4 + 3] - bx[i * 4 + 1]);
  }
  // Greedy NMS within each class group, in descending conf; kept indices stay in that order.
  const suppressed = new Uint8Array(k);
  const keep: number[] = [];
  const groups = new Map<number, number[]>();
  for (let i = 0; i < k; i++) {
    const g = o.agnostic ? 0 : cls[i];
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(i);
  }
  const groupOf = (i: number) => groups.get(o.agnostic ? 0 : cls[i]) as number[];
  const posInGroup = new Int32Array(k);
  for (const list of groups.values()) list.forEach((i, p) => (posInGroup[i] = p));
  for (let i = 0; i < k && keep.length < o.maxDet; i++) {
    if (suppressed[i]) continue;
    keep.push(i);
    const list = groupOf(i);
    for (let p = posInGroup[i] + 1; p < list.length; p++) {
      const j = list[p];
      if (suppressed[j]) continue;
      const iw = Math.min(bx[i * 4 + 2], bx[j * 4 + 2]) - Math.max(bx[i * 4], bx[j * 4]);
      if (iw <= 0) continue;
      const ih = Math.min(bx[i * 4 + 3], bx[j * 4 + 3]) - Math.max(bx[i * 4 + 1], bx[j * 4 + 1]);
      if (ih <= 0) continue;
      const inter = iw * ih;
      if (inter / (area[i] + area[j] - inter) > o.iouThres) suppressed[j] = 1;
    }
  }
  const det = new Float32Array(keep.length * 6);
  keep.forEach((i, q) => {
    det.set(bx.subarray(i * 4, i * 4 + 4), q * 6);
    det[q * 6 + 4] = conf[i];
    det[q * 6 + 5] = cls[i];
  });
  return det;
}

/** The k-th largest value (k ≥ 1) of a, by in-place quickselect (a is scrambled). */
function kthLargest(a: Float32Array, k: number): number {
  let lo = 0,
    hi = a.length - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo,
      j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}
