/** Drawing for the synthetic set: textured backgrounds and anti-aliased shapes on packed RGB. */
import type { RgbImage } from '../image.ts';
import type { Rng } from '../rng.ts';
import type { ShapeKind } from './shapes.ts';

/** A random muted colour (background material). */
function mutedColour(rng: Rng): [number, number, number] {
  const base = rng.uniform(60, 190);
  return [base + rng.uniform(-40, 40), base + rng.uniform(-40, 40), base + rng.uniform(-40, 40)];
}

/** A random vivid colour (objects): saturation 0.55–1, value 0.45–1, any hue. */
export function vividColour(rng: Rng): [number, number, number] {
  const h = rng.uniform(0, 6),
    s = rng.uniform(0.55, 1),
    v = rng.uniform(0.45, 1) * 255;
  const f = h - Math.floor(h),
    p = v * (1 - s),
    q = v * (1 - s * f),
    t = v * (1 - s * (1 - f));
  switch (Math.floor(h)) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

/**
 * A textured background: a two-colour gradient, smooth value noise, an optional low-contrast
 * stripe pattern, and per-pixel grain. Returns float RGB (width·height·3).
 */
export function drawBackground(rng: Rng, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height * 3);
  const c0 = mutedColour(rng),
    c1 = mutedColour(rng);
  const ang = rng.uniform(0, 2 * Math.PI),
    dx = Math.cos(ang),
    dy = Math.sin(ang);
  const half = (Math.abs(dx) * width) / 2 + (Math.abs(dy) * height) / 2;
  // value noise on a coarse grid, bilinearly interpolated
  const cells = 3 + rng.int(6),
    gw = cells + 2,
    gh = cells + 2;
  const grid = Float32Array.from({ length: gw * gh }, () => rng.uniform(-1, 1));
  const amp = rng.uniform(10, 35);
  const stripes = rng.random() < 0.35;
  const sAng = rng.uniform(0, Math.PI),
    sx = Math.cos(sAng),
    sy = Math.sin(sAng),
    period = rng.uniform(6, 30),
    sAmp = rng.uniform(6, 16);
  const grain = rng.uniform(3, 12);
  const cs = Math.max(width, height) / cells;
  // per-column noise-grid cell and smoothstep weight
  const ixs = new Int32Array(width),
    sms = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const gx = x / cs,
      ix = Math.floor(gx),
      fx = gx - ix;
    ixs[x] = ix;
    sms[x] = fx * fx * (3 - 2 * fx);
  }
  const g2 = (2 * grain) / 1023;
  for (let y = 0; y < height; y++) {
    const gy = y / cs,
      iy = Math.floor(gy),
      fy = gy - iy,
      tm = fy * fy * (3 - 2 * fy);
    const r0 = iy * gw,
      r1 = (iy + 1) * gw;
    for (let x = 0; x < width; x++) {
      const ix = ixs[x],
        sm = sms[x];
      const g00 = grid[r0 + ix],
        g01 = grid[r0 + ix + 1],
        g10 = grid[r1 + ix],
        g11 = grid[r1 + ix + 1];
      const noise = amp * ((g00 + (g01 - g00) * sm) * (1 - tm) + (g10 + (g11 - g10) * sm) * tm);
      const t = Math.min(1, Math.max(0, ((x - width / 2) * dx + (y - height / 2) * dy) / (2 * half) + 0.5));
      const stripe = stripes ? sAmp * Math.sin(((x * sx + y * sy) / period) * 2 * Math.PI) : 0;
      const base = noise + stripe - grain;
      const bits = rng.nextU32(); // three 10-bit grain draws from one word
      const o = (y * width + x) * 3;
      out[o] = c0[0] + (c1[0] - c0[0]) * t + base + (bits & 1023) * g2;
      out[o + 1] = c0[1] + (c1[1] - c0[1]) * t + base + ((bits >>> 10) & 1023) * g2;
      out[o + 2] = c0[2] + (c1[2] - c0[2]) * t + base + ((bits >>> 20) & 1023) * g2;
    }
  }
  return out;
}

/**
 * Draws `shape` filling the box (x1, y1)–(x2, y2) (continuous pixel coordinates) in `colour`,
 * with 4×4 supersampled edges and a little shading so objects are not flat.
 */
export function drawShape(
  img: Float32Array,
  width: number,
  height: number,
  shape: ShapeKind,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  colour: readonly number[],
  rng: Rng,
): void {
  const cx = (x1 + x2) / 2,
    cy = (y1 + y2) / 2,
    hw = (x2 - x1) / 2,
    hh = (y2 - y1) / 2;
  const shadeX = rng.uniform(-0.25, 0.25),
    shadeY = rng.uniform(-0.25, 0.25);
  const SS = 4;
  for (let y = Math.max(0, Math.floor(y1)); y < Math.min(height, Math.ceil(y2)); y++) {
    for (let x = Math.max(0, Math.floor(x1)); x < Math.min(width, Math.ceil(x2)); x++) {
      let hit = 0;
      for (let sy = 0; sy < SS; sy++) {
        const v = (y + (sy + 0.5) / SS - cy) / hh;
        if (v < -1 || v > 1) continue;
        for (let sx = 0; sx < SS; sx++) {
          const u = (x + (sx + 0.5) / SS - cx) / hw;
          if (u >= -1 && u <= 1 && shape.inside(u, v)) hit++;
        }
      }
      if (!hit) continue;
      const a = hit / (SS * SS);
      const u = (x + 0.5 - cx) / hw,
        v = (y + 0.5 - cy) / hh;
      const shade = 1 + shadeX * u + shadeY * v;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) img[o + c] = img[o + c] * (1 - a) + colour[c] * shade * a;
    }
  }
}

/** Float RGB → packed bytes (rounded, clipped). */
export function toBytes(f: Float32Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const v = f[i];
    data[i] = v <= 0 ? 0 : v >= 255 ? 255 : v + 0.5;
  }
  return { data, width, height };
}
