/**
 * Affine and perspective warps of packed RGB with bilinear sampling and a constant border, as
 * cv2.warpAffine / cv2.warpPerspective: `m` maps source pixel coordinates to destination ones,
 * and each destination pixel samples the source at m⁻¹(x, y).
 */
import type { RgbImage } from './image.ts';
import { PAD_VALUE } from './letterbox.ts';

/** A 3×3 matrix, row-major. */
export type Mat3 = Float64Array;

export function mat3(values?: ArrayLike<number>): Mat3 {
  const m = new Float64Array(9);
  if (values) m.set(values);
  else {
    m[0] = 1;
    m[4] = 1;
    m[8] = 1;
  }
  return m;
}

export function matMul(a: Mat3, b: Mat3): Mat3 {
  const c = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) c[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
  }
  return c;
}

export function matInvert(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h,
    B = -(d * i - f * g),
    C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-12) throw new Error('warp: singular matrix');
  const k = 1 / det;
  return mat3([
    A * k,
    -(b * i - c * h) * k,
    (b * f - c * e) * k,
    B * k,
    (a * i - c * g) * k,
    -(a * f - c * d) * k,
    C * k,
    -(a * h - b * g) * k,
    (a * e - b * d) * k,
  ]);
}

/**
 * Warps `src` into a `width × height` image through `m` (perspective when its last row is not
 * [0 0 1]). `out` (width·height·3 bytes) is reused when given.
 */
export function warp(src: RgbImage, m: Mat3, width: number, height: number, border = PAD_VALUE, out?: Uint8Array): RgbImage {
  const inv = matInvert(m);
  const dst = out && out.length === width * height * 3 ? out : new Uint8Array(width * height * 3);
  const affine = inv[6] === 0 && inv[7] === 0 && inv[8] === 1;
  const s = src.data,
    sw = src.width,
    sh = src.height,
    stride = sw * 3;
  const a = inv[0],
    b = inv[1],
    c = inv[2],
    d = inv[3],
    e = inv[4],
    f = inv[5];
  let o = 0;
  for (let y = 0; y < height; y++) {
    let sx0 = b * y + c,
      sy0 = e * y + f;
    for (let x = 0; x < width; x++, o += 3, sx0 += a, sy0 += d) {
      let sx = sx0,
        sy = sy0;
      if (!affine) {
        const w = inv[6] * x + inv[7] * y + inv[8];
        const iw = w !== 0 ? 1 / w : 0;
        sx = (a * x + b * y + c) * iw;
        sy = (d * x + e * y + f) * iw;
      }
      const x0 = Math.floor(sx),
        y0 = Math.floor(sy);
      const fx = sx - x0,
        fy = sy - y0;
      if (x0 >= 0 && y0 >= 0 && x0 < sw - 1 && y0 < sh - 1) {
        const i = y0 * stride + x0 * 3,
          j = i + stride;
        const w11 = fx * fy,
          w10 = fy - w11,
          w01 = fx - w11,
          w00 = 1 - fx - fy + w11;
        dst[o] = (s[i] * w00 + s[i + 3] * w01 + s[j] * w10 + s[j + 3] * w11 + 0.5) | 0;
        dst[o + 1] = (s[i + 1] * w00 + s[i + 4] * w01 + s[j + 1] * w10 + s[j + 4] * w11 + 0.5) | 0;
        dst[o + 2] = (s[i + 2] * w00 + s[i + 5] * w01 + s[j + 2] * w10 + s[j + 5] * w11 + 0.5) | 0;
      } else if (x0 < -1 || y0 < -1 || x0 >= sw || y0 >= sh || Number.isNaN(sx)) {
        dst[o] = border;
        dst[o + 1] = border;
        dst[o + 2] = border;
      } else {
        for (let ch = 0; ch < 3; ch++) {
          const p00 = px(s, sw, sh, x0, y0, ch, border),
            p01 = px(s, sw, sh, x0 + 1, y0, ch, border);
          const p10 = px(s, sw, sh, x0, y0 + 1, ch, border),
            p11 = px(s, sw, sh, x0 + 1, y0 + 1, ch, border);
          const top = p00 + (p01 - p00) * fx,
            bot = p10 + (p11 - p10) * fx;
          dst[o + ch] = (top + (bot - top) * fy + 0.5) | 0;
        }
      }
    }
  }
  return { data: dst, width, height };
}

function px(s: Uint8Array, w: number, h: number, x: number, y: number, c: number, border: number): number {
  return x < 0 || y < 0 || x >= w || y >= h ? border : s[(y * w + x) * 3 + c];
}

/** Maps a point through `m` (with the perspective divide). */
export function mapPoint(m: Mat3, x: number, y: number): [number, number] {
  const w = m[6] * x + m[7] * y + m[8];
  return [(m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w];
}
