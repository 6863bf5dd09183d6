/** The per-IoU-threshold true-positive matrix of one image's detections (val.py process_batch). */
import { iouXyxy } from './box-iou.ts';

/** 0.50:0.05:0.95 as float32 values, as the reference uses them. */
export const IOU_THRESHOLDS: readonly number[] = Object.freeze(Array.from({ length: 10 }, (_, i) => Math.fround(0.5 + 0.05 * i)));

/**
 * For each threshold t, a detection is correct when it is matched to a label of its class with
 * IoU ≥ t: each detection keeps its highest-IoU label, then each label keeps only the earliest
 * (highest-confidence) detection that chose it.
 *
 * @param detections rows [x1, y1, x2, y2, conf, cls], in descending conf (as NMS returns them)
 * @param labels rows [cls, x1, y1, x2, y2], same coordinate space
 * @returns n×T flags (row-major, 1 = true positive), T = iouThresholds.length
 */
export function matchDetections(
  detections: ArrayLike<number>,
  labels: ArrayLike<number>,
  iouThresholds: readonly number[] = IOU_THRESHOLDS,
): Uint8Array {
  const nd = detections.length / 6,
    nl = labels.length / 5;
  const nt = iouThresholds.length;
  const correct = new Uint8Array(nd * nt);
  if (!nd || !nl) return correct;
  const iou = new Float64Array(nl * nd);
  for (let l = 0; l < nl; l++) {
    const lb = [labels[l * 5 + 1], labels[l * 5 + 2], labels[l * 5 + 3], labels[l * 5 + 4]];
    for (let d = 0; d < nd; d++) {
      if (labels[l * 5] !== detections[d * 6 + 5]) continue;
      iou[l * nd + d] = iouXyxy(lb, [detections[d * 6], detections[d * 6 + 1], detections[d * 6 + 2], detections[d * 6 + 3]]);
    }
  }
  const bestLabel = new Int32Array(nd),
    bestIou = new Float64Array(nd);
  const takenBy = new Int32Array(nl);
  iouThresholds.forEach((thr, ti) => {
    // Each detection's best same-class label at this threshold.
    for (let d = 0; d < nd; d++) {
      bestLabel[d] = -1;
      bestIou[d] = -1;
      for (let l = 0; l < nl; l++) {
        const v = iou[l * nd + d];
        if (labels[l * 5] === detections[d * 6 + 5] && v >= thr && v > bestIou[d]) {
          bestIou[d] = v;
          bestLabel[d] = l;
        }
      }
    }
    // Each label goes to the earliest detection that chose it.
    takenBy.fill(-1);
    for (let d = 0; d < nd; d++) {
      const l = bestLabel[d];
      if (l >= 0 && takenBy[l] < 0) {
        takenBy[l] = d;
        correct[d * nt + ti] = 1;
      }
    }
  });
  return correct;
}
