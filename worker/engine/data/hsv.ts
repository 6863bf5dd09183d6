/**
 * HSV augmentation (the reference's augment_hsv: random gains applied through lookup tables on
 * OpenCV's 8-bit HSV, hue in [0, 180)), fused with flips and the conversion to float [0, 1] so a
 * sample is written into the batch in one pass.
 */
import type { RgbImage } from './image.ts';
import type { Rng } from './rng.ts';

/** Lookup tables for hue, saturation and value. */
export interface HsvLuts {
  hue: Uint8Array;
  sat: Uint8Array;
  val: Uint8Array;
}

/** Draws the gains r = U(-1, 1)·gain + 1 (three draws, h s v) and builds the tables; null when all gains are 0. */
export function randomHsvLuts(rng: Rng, hgain: number, sgain: number, vgain: number): HsvLuts | null {
  if (!hgain && !sgain && !vgain) return null;
  const rh = rng.uniform(-1, 1) * hgain + 1,
    rs = rng.uniform(-1, 1) * sgain + 1,
    rv = rng.uniform(-1, 1) * vgain + 1;
  return hsvLuts(rh, rs, rv);
}

/** The tables for given gains (as the reference: hue wraps mod 180, s and v clip to 255). */
export function hsvLuts(rh: number, rs: number, rv: number): HsvLuts {
  const hue = new Uint8Array(256),
    sat = new Uint8Array(256),
    val = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    hue[x] = Math.trunc((x * rh) % 180);
    sat[x] = Math.trunc(Math.min(Math.max(x * rs, 0), 255));
    val[x] = Math.trunc(Math.min(Math.max(x * rv, 0), 255));
  }
  return { hue, sat, val };
}

const INV255 = new Float32Array(256).map((_, i) => i / 255);

/** Applies HSV tables to one RGB pixel in place in `px` (indices 0..2), OpenCV 8-bit conventions. */
export function hsvPixel(r: number, g: number, b: number, luts: HsvLuts, px: Uint8Array | number[]): void {
  const v = r > g ? (r > b ? r : b) : g > b ? g : b;
  const mn = r < g ? (r < b ? r : b) : g < b ? g : b;
  const diff = v - mn;
  let h = 0;
  if (diff) {
    h = ((v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff) * 30) / diff;
    h = Math.round(h);
    if (h < 0) h += 180;
  }
  const s = v ? Math.round((diff * 255) / v) : 0;
  const H = luts.hue[h],
    S = luts.sat[s],
    V = luts.val[v];
  if (S === 0) {
    px[0] = V;
    px[1] = V;
    px[2] = V;
    return;
  }
  let hh = H / 30; // 8-bit hue in [0, 180) → sector units [0, 6)
  if (hh >= 6) hh -= 6;
  const sector = Math.floor(hh),
    f = hh - sector,
    sn = S / 255;
  const p = V * (1 - sn) + 0.5,
    q = V * (1 - sn * f) + 0.5,
    t = V * (1 - sn * (1 - f)) + 0.5,
    vv = V + 0.5;
  let R: number, G: number, B: number;
  switch (sector) {
    case 0:
      R = vv;
      G = t;
      B = p;
      break;
    case 1:
      R = q;
      G = vv;
      B = p;
      break;
    case 2:
      R = p;
      G = vv;
      B = t;
      break;
    case 3:
      R = p;
      G = q;
      B = vv;
      break;
    case 4:
      R = t;
      G = p;
      B = vv;
      break;
    default:
      R = vv;
      G = p;
      B = q;
      break;
  }
  px[0] = R | 0;
  px[1] = G | 0;
  px[2] = B | 0;
}

// 8-bit hue H (0..180, 180 from rounding) → sector and fraction of the HSV→RGB conversion
// reciprocals for the hue and saturation quotients; ROUND adds 1e-7 past 0.5 so exact ties (118.5)
// round up as exact division would (non-ties sit at least 1/510 away from a half)
const R30 = new Float64Array(256).map((_, d) => (d ? 30 / d : 0));
const R255 = new Float64Array(256).map((_, v) => (v ? 255 / v : 0));
const ROUND = 0.5 + 1e-7;
const SECTOR = new Uint8Array(256),
  FRAC = new Float64Array(256);
for (let H = 0; H < 256; H++) {
  let hh = H / 30;
  while (hh >= 6) hh -= 6;
  SECTOR[H] = Math.floor(hh);
  FRAC[H] = hh - Math.floor(hh);
}

/**
 * Writes `im` into `dst` (NHWC float, the sample starting at `offset`) as values in [0, 1], applying
 * `luts` (or none), a left-right and an up-down flip. The HSV round trip is inlined: it runs on
 * every pixel of every training image.
 */
export function writeSample(dst: Float32Array, offset: number, im: RgbImage, luts: HsvLuts | null, flipLR: boolean, flipUD: boolean): void {
  const { data: s, width: w, height: h } = im;
  const row3 = w * 3;
  if (!luts) {
    for (let y = 0; y < h; y++) {
      const row = (flipUD ? h - 1 - y : y) * row3;
      let o = offset + y * row3;
      if (!flipLR) {
        for (let i = 0; i < row3; i++) dst[o + i] = INV255[s[row + i]];
        continue;
      }
      for (let i = row + row3 - 3; i >= row; i -= 3, o += 3) {
        dst[o] = INV255[s[i]];
        dst[o + 1] = INV255[s[i + 1]];
        dst[o + 2] = INV255[s[i + 2]];
      }
    }
    return;
  }
  const sat = luts.sat,
    val = luts.val;
  // per image: output hue sector and fraction for each input hue
  const sec = new Uint8Array(181),
    frac = new Float64Array(181);
  for (let hi = 0; hi < 181; hi++) {
    const H = luts.hue[hi % 180];
    sec[hi] = SECTOR[H];
    frac[hi] = FRAC[H];
  }
  for (let y = 0; y < h; y++) {
    const row = (flipUD ? h - 1 - y : y) * row3;
    let o = offset + y * row3;
    const step = flipLR ? -3 : 3;
    for (let x = 0, i = flipLR ? row + row3 - 3 : row; x < w; x++, i += step, o += 3) {
      const r = s[i],
        g = s[i + 1],
        b = s[i + 2];
      const v = r > g ? (r > b ? r : b) : g > b ? g : b;
      const mn = r < g ? (r < b ? r : b) : g < b ? g : b;
      const diff = v - mn;
      const V = val[v];
      if (diff === 0) {
        const f = INV255[V];
        dst[o] = f;
        dst[o + 1] = f;
        dst[o + 2] = f;
        continue;
      }
      const hf = (v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff) * R30[diff];
      const hi = hf >= 0 ? (hf + ROUND) | 0 : (hf + 180 + ROUND) | 0;
      const S = sat[(diff * R255[v] + ROUND) | 0];
      if (S === 0) {
        const f = INV255[V];
        dst[o] = f;
        dst[o + 1] = f;
        dst[o + 2] = f;
        continue;
      }
      const vs = V * S * (1 / 255),
        f = frac[hi];
      const vv = INV255[V],
        p = INV255[(V - vs + 0.5) | 0];
      const q = INV255[(V - vs * f + 0.5) | 0],
        t = INV255[(V - vs + vs * f + 0.5) | 0];
      switch (sec[hi]) {
        case 0:
          dst[o] = vv;
          dst[o + 1] = t;
          dst[o + 2] = p;
          break;
        case 1:
          dst[o] = q;
          dst[o + 1] = vv;
          dst[o + 2] = p;
          break;
        case 2:
          dst[o] = p;
          dst[o + 1] = vv;
          dst[o + 2] = t;
          break;
        case 3:
          dst[o] = p;
          dst[o + 1] = q;
          dst[o + 2] = vv;
          break;
        case 4:
          dst[o] = t;
          dst[o + 1] = p;
          dst[o + 2] = vv;
          break;
        default:
          dst[o] = vv;
          dst[o + 1] = p;
          dst[o + 2] = q;
          break;
      }
    }
  }
}
