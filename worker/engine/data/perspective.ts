/**
 * random_perspective of the reference: centre, perspective, rotation + scale, shear, translation,
 * one warp, boxes mapped through their four corners, then box_candidates filtering.
 */
import type { RgbImage } from './image.ts';
import { boxCandidate } from './boxes.ts';
import type { Rng } from './rng.ts';
import { mat3, matMul, warp, type Mat3 } from './warp.ts';

/** The geometric hyperparameters (hyp.scratch-low names). */
export interface PerspectiveHyp {
  degrees: number;
  translate: number;
  scale: number;
  shear: number;
  perspective: number;
}

/**
 * The random transform, drawn in the reference's order. `width`/`height` are the output size;
 * `srcWidth`/`srcHeight` the input's.
 */
export function randomPerspectiveMatrix(
  rng: Rng,
  h: PerspectiveHyp,
  srcWidth: number,
  srcHeight: number,
  width: number,
  height: number,
): { m: Mat3; s: number } {
  const C = mat3([1, 0, -srcWidth / 2, 0, 1, -srcHeight / 2, 0, 0, 1]);
  const P = mat3();
  P[6] = rng.uniform(-h.perspective, h.perspective);
  P[7] = rng.uniform(-h.perspective, h.perspective);
  const a = (rng.uniform(-h.degrees, h.degrees) * Math.PI) / 180;
  const s = rng.uniform(1 - h.scale, 1 + h.scale);
  // cv2.getRotationMatrix2D(center=(0, 0), angle=a, scale=s)
  const R = mat3([s * Math.cos(a), s * Math.sin(a), 0, -s * Math.sin(a), s * Math.cos(a), 0, 0, 0, 1]);
  const S = mat3();
  S[1] = Math.tan((rng.uniform(-h.shear, h.shear) * Math.PI) / 180);
  S[3] = Math.tan((rng.uniform(-h.shear, h.shear) * Math.PI) / 180);
  const T = mat3();
  T[2] = rng.uniform(0.5 - h.translate, 0.5 + h.translate) * width;
  T[5] = rng.uniform(0.5 - h.translate, 0.5 + h.translate) * height;
  return { m: matMul(T, matMul(S, matMul(R, matMul(P, C)))), s };
}

/**
 * Warps `im` to `width × height` and maps pixel xyxy label rows [cls, x1, y1, x2, y2] with it,
 * dropping boxes that box_candidates rejects. Without a border and with an identity matrix the
 * image is returned as is. `out` (width·height·3 bytes) is reused for the result when given.
 */
export function randomPerspective(
  im: RgbImage,
  labels: Float32Array,
  rng: Rng,
  h: PerspectiveHyp,
  width = im.width,
  height = im.height,
  out?: Uint8Array,
): { image: RgbImage; labels: Float32Array } {
  const { m, s } = randomPerspectiveMatrix(rng, h, im.width, im.height, width, height);
  const identity = m.every((v, i) => v === (i % 4 === 0 ? 1 : 0));
  const image = width !== im.width || height !== im.height || !identity ? warp(im, m, width, height, undefined, out) : im;
  return { image, labels: transformBoxes(labels, m, s, width, height) };
}

/** Maps box corners through `m`, takes their bounds, clips, and filters with box_candidates. */
export function transformBoxes(labels: Float32Array, m: Mat3, s: number, width: number, height: number): Float32Array {
  const n = labels.length / 5;
  const out = new Float32Array(labels.length);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const b = i * 5;
    const x1 = labels[b + 1],
      y1 = labels[b + 2],
      x2 = labels[b + 3],
      y2 = labels[b + 4];
    let nx1 = Infinity,
      ny1 = Infinity,
      nx2 = -Infinity,
      ny2 = -Infinity;
    for (let c = 0; c < 4; c++) {
      const x = c & 1 ? x2 : x1,
        y = c & 2 ? y2 : y1;
      const w = m[6] * x + m[7] * y + m[8];
      const px = (m[0] * x + m[1] * y + m[2]) / w,
        py = (m[3] * x + m[4] * y + m[5]) / w;
      if (px < nx1) nx1 = px;
      if (px > nx2) nx2 = px;
      if (py < ny1) ny1 = py;
      if (py > ny2) ny2 = py;
    }
    nx1 = clamp(nx1, width);
    nx2 = clamp(nx2, width);
    ny1 = clamp(ny1, height);
    ny2 = clamp(ny2, height);
    if (!boxCandidate((x2 - x1) * s, (y2 - y1) * s, nx2 - nx1, ny2 - ny1)) continue;
    out[k] = labels[b];
    out[k + 1] = nx1;
    out[k + 2] = ny1;
    out[k + 3] = nx2;
    out[k + 4] = ny2;
    k += 5;
  }
  return out.slice(0, k);
}

function clamp(v: number, hi: number): number {
  return v < 0 ? 0 : v > hi ? hi : v;
}
