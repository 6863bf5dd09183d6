/**
 * The detection confusion matrix (YOLOv5's ConfusionMatrix.process_batch), filled from the same
 * detections and labels as the P/R/mAP statistics (MetricsAccumulator.add feeds both).
 *
 * `matrix[p][t]` counts, with nc + 1 rows and columns (index nc = background):
 * - a label of class t matched (IoU > 0.45, any class) by a detection of class p → [p][t];
 * - a label that no detection matched → [nc][t] (a missed object);
 * - a detection that matched no label → [p][nc] (a false alarm).
 * Only detections with confidence > 0.25 take part. Matching is one-to-one by descending IoU.
 * Unlike the reference, a detection in an image where nothing matched at all still counts as a
 * false alarm (the reference drops it).
 */
import { iouXyxy } from './box-iou.ts';

export const CONFUSION_CONF = 0.25;
export const CONFUSION_IOU = 0.45;

export class ConfusionMatrix {
  readonly nc: number;
  /** (nc + 1)² counts, row-major: row = predicted class, column = true class; index nc = background */
  readonly counts: Float64Array;

  constructor(
    nc: number,
    readonly conf = CONFUSION_CONF,
    readonly iou = CONFUSION_IOU,
  ) {
    this.nc = nc;
    this.counts = new Float64Array((nc + 1) * (nc + 1));
  }

  /** counts[p][t] */
  at(p: number, t: number): number {
    return this.counts[p * (this.nc + 1) + t];
  }

  /** The matrix as rows (predicted) of columns (true). */
  rows(): number[][] {
    const n = this.nc + 1;
    return Array.from({ length: n }, (_, p) => Array.from(this.counts.subarray(p * n, p * n + n)));
  }

  #bump(p: number, t: number): void {
    // a class id beyond nc (a bad label file) counts as background rather than corrupting a neighbour
    const n = this.nc + 1;
    const pp = p >= 0 && p < this.nc ? p : this.nc,
      tt = t >= 0 && t < this.nc ? t : this.nc;
    this.counts[pp * n + tt] += 1;
  }

  /** One image: detections rows [x1, y1, x2, y2, conf, cls]; labels rows [cls, x1, y1, x2, y2]. */
  add(detections: ArrayLike<number>, labels: ArrayLike<number>): void {
    const dets: number[] = [];
    for (let d = 0; d < detections.length / 6; d++) if (detections[d * 6 + 4] > this.conf) dets.push(d);
    const nl = labels.length / 5;
    const pairs: Array<[number, number, number]> = []; // [label, detection, iou]
    for (let l = 0; l < nl; l++) {
      const lb = [labels[l * 5 + 1], labels[l * 5 + 2], labels[l * 5 + 3], labels[l * 5 + 4]];
      for (const d of dets) {
        const v = iouXyxy(lb, [detections[d * 6], detections[d * 6 + 1], detections[d * 6 + 2], detections[d * 6 + 3]]);
        if (v > this.iou) pairs.push([l, d, v]);
      }
    }
    pairs.sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]);
    const labelTo = new Map<number, number>(),
      detTaken = new Set<number>();
    for (const [l, d] of pairs) {
      if (labelTo.has(l) || detTaken.has(d)) continue;
      labelTo.set(l, d);
      detTaken.add(d);
    }
    for (let l = 0; l < nl; l++) {
      const d = labelTo.get(l);
      this.#bump(d === undefined ? this.nc : detections[d * 6 + 5], labels[l * 5]);
    }
    for (const d of dets) if (!detTaken.has(d)) this.#bump(detections[d * 6 + 5], this.nc);
  }

  /** Adds another matrix's counts (same nc), e.g. another rank's. */
  addCounts(counts: ArrayLike<number>): void {
    if (counts.length !== this.counts.length)
      throw new Error(`confusion counts of length ${counts.length} do not match ${this.nc} classes`);
    for (let i = 0; i < counts.length; i++) this.counts[i] += counts[i];
  }

  /** Labels per true class (column sums, background row included): every label lands in exactly one cell. */
  labelsPerClass(): number[] {
    return Array.from({ length: this.nc }, (_, t) => {
      let s = 0;
      for (let p = 0; p <= this.nc; p++) s += this.at(p, t);
      return s;
    });
  }
}
