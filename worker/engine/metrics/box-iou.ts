/** Plain-number box overlap measures (float64) for validation. */

/** A box as 4 numbers; [x1, y1, x2, y2] or [xc, yc, w, h] as the function says. */
export type Box = ArrayLike<number>;

const EPS = 1e-7;

/** IoU of two [x1, y1, x2, y2] boxes: inter / (area1 + area2 − inter + eps), eps = 1e-7. */
export function iouXyxy(a: Box, b: Box, eps = EPS): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + eps);
}

/** Pairwise IoU matrix: result[i][j] = IoU(box1[i], box2[j]), boxes [x1, y1, x2, y2], eps = 1e-7. */
export function boxIou(box1: ReadonlyArray<Box>, box2: ReadonlyArray<Box>): number[][] {
  return box1.map((a) => box2.map((b) => iouXyxy(a, b)));
}

/**
 * CIoU of two [xc, yc, w, h] boxes, the definition the loss uses (eps = 1e-7 in the union and
 * in the enclosing diagonal c²): IoU − ρ²/c² − α·v, v = (4/π²)(atan(w2/h2) − atan(w1/h1))²,
 * α = v / (v − IoU + 1 + eps).
 */
export function bboxCiou(box1: Box, box2: Box): number {
  const [x1, y1, w1, h1] = [box1[0], box1[1], box1[2], box1[3]];
  const [x2, y2, w2, h2] = [box2[0], box2[1], box2[2], box2[3]];
  const a = [x1 - w1 / 2, y1 - h1 / 2, x1 + w1 / 2, y1 + h1 / 2];
  const b = [x2 - w2 / 2, y2 - h2 / 2, x2 + w2 / 2, y2 + h2 / 2];
  const inter = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const iou = inter / (w1 * h1 + w2 * h2 - inter + EPS);
  const cw = Math.max(a[2], b[2]) - Math.min(a[0], b[0]);
  const ch = Math.max(a[3], b[3]) - Math.min(a[1], b[1]);
  const c2 = cw * cw + ch * ch + EPS;
  const rho2 = ((b[0] + b[2] - a[0] - a[2]) ** 2 + (b[1] + b[3] - a[1] - a[3]) ** 2) / 4;
  const v = (4 / (Math.PI * Math.PI)) * (Math.atan(w2 / h2) - Math.atan(w1 / h1)) ** 2;
  const alpha = v / (v - iou + (1 + EPS));
  return iou - (rho2 / c2 + v * alpha);
}

/** [xc, yc, w, h] → [x1, y1, x2, y2]. */
export function xywhToXyxy(b: Box): [number, number, number, number] {
  return [b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2];
}
