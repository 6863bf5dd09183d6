/**
 * A COCO-like detection set for memory and speed measurements (issue 24 item 5): 80 classes,
 * JPEG images at COCO's common sizes (640×480, 500×375, 427×640, 640×427, 480×640, 612×612),
 * 1–20 boxes each, textured (smooth colour fields, mid-frequency noise, per-pixel grain) so that
 * the JPEGs weigh what COCO's do (~100–200 kB), unlike the project's flat synthetic shapes.
 *   node --import tsx scripts/make-coco-like.ts --out /tmp/coco-like [--train 128] [--val 32] [--seed 0]
 * Deterministic: the same seed writes the same files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const SIZES: readonly [number, number][] = [
  [640, 480],
  [640, 480],
  [640, 480],
  [500, 375],
  [427, 640],
  [640, 427],
  [480, 640],
  [612, 612],
];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A gw×gh grid of random RGB values, bilinearly sampled at (x, y) in [0,1)². */
function field(rand: () => number, gw: number, gh: number, amp: number) {
  const g = Float32Array.from({ length: (gw + 1) * (gh + 1) * 3 }, () => (rand() - 0.5) * amp);
  return (x: number, y: number, c: number): number => {
    const fx = x * gw,
      fy = y * gh;
    const x0 = Math.floor(fx),
      y0 = Math.floor(fy);
    const tx = fx - x0,
      ty = fy - y0;
    const at = (i: number, j: number) => g[(j * (gw + 1) + i) * 3 + c];
    return (at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx) * (1 - ty) + (at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx) * ty;
  };
}

/** One image: RGB bytes and YOLO label rows. */
function makeImage(rand: () => number, w: number, h: number): { data: Buffer; labels: string[] } {
  const base = [rand() * 255, rand() * 255, rand() * 255];
  const low = field(rand, 4, 3, 160),
    mid = field(rand, 40, 30, 70);
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = x / w,
        v = y / h;
      for (let c = 0; c < 3; c++) {
        const val = base[c] + low(u, v, c) + mid(u, v, c) + (rand() - 0.5) * 24;
        data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, val));
      }
    }
  }
  const n = 1 + Math.floor(rand() * 20);
  const labels: string[] = [];
  for (let k = 0; k < n; k++) {
    // COCO-like size spread: many small boxes, some large
    const s = rand() < 0.4 ? 0.03 + rand() * 0.1 : 0.1 + rand() * 0.6;
    const bw = Math.max(4, Math.round(s * w * (0.6 + rand() * 0.8))),
      bh = Math.max(4, Math.round(s * h * (0.6 + rand() * 0.8)));
    const x0 = Math.floor(rand() * (w - bw)),
      y0 = Math.floor(rand() * (h - bh));
    const cls = Math.floor(rand() * 80);
    const col = [rand() * 255, rand() * 255, rand() * 255];
    const period = 3 + Math.floor(rand() * 12),
      ellipse = rand() < 0.5;
    for (let y = y0; y < y0 + bh; y++) {
      for (let x = x0; x < x0 + bw; x++) {
        const dx = (x - x0) / bw - 0.5,
          dy = (y - y0) / bh - 0.5;
        if (ellipse && dx * dx + dy * dy > 0.25) continue;
        const stripe = ((x + y) / period) % 2 < 1 ? 25 : -25;
        for (let c = 0; c < 3; c++) {
          data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, col[c] + stripe + (rand() - 0.5) * 30));
        }
      }
    }
    labels.push(`${cls} ${((x0 + bw / 2) / w).toFixed(6)} ${((y0 + bh / 2) / h).toFixed(6)} ${(bw / w).toFixed(6)} ${(bh / h).toFixed(6)}`);
  }
  return { data, labels };
}

/** Writes the set into `dir` (images/{train,val}, labels/{train,val}, data.yaml); returns the yaml path. */
export async function makeCocoLike(dir: string, train = 128, val = 32, seed = 0): Promise<{ yaml: string; bytes: number }> {
  const rand = mulberry32(0x9e3779b9 ^ seed);
  let bytes = 0;
  for (const [split, count] of [
    ['train', train],
    ['val', val],
  ] as const) {
    mkdirSync(join(dir, 'images', split), { recursive: true });
    mkdirSync(join(dir, 'labels', split), { recursive: true });
    for (let i = 0; i < count; i++) {
      const [w, h] = SIZES[Math.floor(rand() * SIZES.length)];
      const { data, labels } = makeImage(rand, w, h);
      const jpg = await sharp(data, { raw: { width: w, height: h, channels: 3 } })
        .jpeg({ quality: 90 })
        .toBuffer();
      const name = `${String(i).padStart(12, '0')}`;
      writeFileSync(join(dir, 'images', split, `${name}.jpg`), jpg);
      writeFileSync(join(dir, 'labels', split, `${name}.txt`), `${labels.join('\n')}\n`);
      bytes += jpg.length;
    }
  }
  const names = Array.from({ length: 80 }, (_, i) => `  ${i}: class${i}`).join('\n');
  const yaml = join(dir, 'data.yaml');
  writeFileSync(yaml, `path: ${resolve(dir)}\ntrain: images/train\nval: images/val\nnames:\n${names}\n`);
  return { yaml, bytes };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('make-coco-like.ts')) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, train: { type: 'string' }, val: { type: 'string' }, seed: { type: 'string' } },
  });
  if (!values.out) {
    console.error('usage: node --import tsx scripts/make-coco-like.ts --out DIR [--train 128] [--val 32] [--seed 0]');
    process.exit(2);
  }
  const t0 = performance.now();
  const r = await makeCocoLike(values.out, Number(values.train ?? 128), Number(values.val ?? 32), Number(values.seed ?? 0));
  console.log(`${r.yaml}: ${(r.bytes / 2 ** 20).toFixed(1)} MiB of JPEG in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
