/** Bilinear resize of packed RGB (cv2.INTER_LINEAR conventions: pixel centres at +0.5). */
import type { RgbImage } from './image.ts';

export function resizeBilinear(src: RgbImage, width: number, height: number): RgbImage {
  const { data: s, width: sw, height: sh } = src;
  const out = new Uint8Array(width * height * 3);
  const fx = sw / width,
    fy = sh / height;
  const x0s = new Int32Array(width),
    x1s = new Int32Array(width),
    wx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    let sx = (x + 0.5) * fx - 0.5;
    if (sx < 0) sx = 0;
    let x0 = Math.floor(sx);
    if (x0 > sw - 1) x0 = sw - 1;
    x0s[x] = x0 * 3;
    x1s[x] = Math.min(x0 + 1, sw - 1) * 3;
    wx[x] = Math.min(sx - x0, 1);
  }
  for (let y = 0; y < height; y++) {
    let sy = (y + 0.5) * fy - 0.5;
    if (sy < 0) sy = 0;
    let y0 = Math.floor(sy);
    if (y0 > sh - 1) y0 = sh - 1;
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = Math.min(sy - y0, 1);
    const r0 = y0 * sw * 3,
      r1 = y1 * sw * 3;
    let o = y * width * 3;
    for (let x = 0; x < width; x++) {
      const a = x0s[x],
        b = x1s[x],
        w = wx[x];
      for (let c = 0; c < 3; c++) {
        const top = s[r0 + a + c] + (s[r0 + b + c] - s[r0 + a + c]) * w;
        const bot = s[r1 + a + c] + (s[r1 + b + c] - s[r1 + a + c]) * w;
        out[o++] = (top + (bot - top) * wy + 0.5) | 0;
      }
    }
  }
  return { data: out, width, height };
}
