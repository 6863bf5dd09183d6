/**
 * A deterministic synthetic detection set: a few shape classes (circle, square, triangle, ...)
 * in vivid colours on textured backgrounds, written as a YOLO dataset. Tests, benchmarks and the
 * demo train on it; a tiny YOLOv5 learns it in minutes on a CPU.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { encodeImage } from '../image.ts';
import { deriveRng, type Rng } from '../rng.ts';
import { drawBackground, drawShape, toBytes, vividColour } from './draw.ts';
import { DEFAULT_CLASSES, SHAPES } from './shapes.ts';

export interface SyntheticOptions {
  /** output folder (created; earlier synthetic files in it are replaced) */
  dir: string;
  /** number of training images */
  train: number;
  /** number of validation images */
  val: number;
  /** long side of every image in pixels (default 320) */
  img?: number;
  /** same seed, same bytes (default 0) */
  seed?: number;
  /** class names, from circle, square, triangle, diamond, cross, ring, hexagon (default circle, square, triangle) */
  classes?: string[];
  /** fraction of images without objects (default 0.1) */
  backgroundFraction?: number;
  /** objects per non-background image, inclusive (default [2, 6]) */
  objects?: [number, number];
  /** object size as a fraction of the image's short side, inclusive (default [0.1, 0.4]) */
  sizes?: [number, number];
}

export interface SyntheticDataset {
  yamlPath: string;
  dir: string;
  names: string[];
  /** objects written per split */
  objects: { train: number; val: number };
}

/** One generated image: packed RGB and its normalised label rows. */
export interface SyntheticImage {
  width: number;
  height: number;
  data: Uint8Array;
  /** [cls, xc, yc, w, h] rows */
  labels: number[][];
}

const SPLIT_KEY = { train: 0x7a1, val: 0x5a1 } as const;
const SYNTH_FILE = /^(train|val)_\d{6}\.(jpg|png|txt)$/;

/** Draws image `i` of a split (pure: same arguments, same pixels). */
export function synthesizeImage(
  seed: number,
  split: 'train' | 'val',
  i: number,
  o: Required<Omit<SyntheticOptions, 'dir' | 'train' | 'val' | 'seed'>>,
): SyntheticImage {
  const rng = deriveRng(seed, SPLIT_KEY[split], i);
  const L = o.img;
  let width = L,
    height = L;
  if (rng.random() < 0.4) {
    const short = Math.round(L * rng.uniform(0.6, 0.9));
    if (rng.random() < 0.5) height = short;
    else width = short;
  }
  const pixels = drawBackground(rng, width, height);
  const labels: number[][] = [];
  if (rng.random() >= o.backgroundFraction) {
    const count = o.objects[0] + rng.int(o.objects[1] - o.objects[0] + 1);
    const boxes: [number, number, number, number][] = [];
    const short = Math.min(width, height);
    for (let k = 0; k < count; k++) {
      const cls = rng.int(o.classes.length);
      const box = place(rng, boxes, width, height, short * o.sizes[0], short * o.sizes[1]);
      if (!box) continue;
      boxes.push(box);
      const [x1, y1, x2, y2] = box;
      drawShape(pixels, width, height, SHAPES[o.classes[cls]], x1, y1, x2, y2, vividColour(rng), rng);
      labels.push([cls, (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height]);
    }
  }
  const { data } = toBytes(pixels, width, height);
  return { width, height, data, labels };
}

/** A box of side in [lo, hi] (aspect 0.8–1.25) inside the image, not overlapping `taken` (null after 50 tries). */
function place(
  rng: Rng,
  taken: readonly number[][],
  width: number,
  height: number,
  lo: number,
  hi: number,
): [number, number, number, number] | null {
  for (let t = 0; t < 50; t++) {
    const s = rng.uniform(lo, hi),
      ar = Math.exp(rng.uniform(Math.log(0.8), Math.log(1.25)));
    const w = Math.round(Math.min(width - 2, s * Math.sqrt(ar))),
      h = Math.round(Math.min(height - 2, s / Math.sqrt(ar)));
    const x1 = 1 + rng.int(width - w - 1),
      y1 = 1 + rng.int(height - h - 1);
    const box: [number, number, number, number] = [x1, y1, x1 + w, y1 + h];
    const gap = 2;
    if (taken.every((b) => box[0] >= b[2] + gap || box[2] + gap <= b[0] || box[1] >= b[3] + gap || box[3] + gap <= b[1])) return box;
  }
  return null;
}

/** The label file text of rows (6 decimals, one object a line). */
export function formatLabels(rows: readonly number[][]): string {
  return rows
    .map(
      (r) =>
        `${r[0]} ${r
          .slice(1)
          .map((v) => v.toFixed(6))
          .join(' ')}\n`,
    )
    .join('');
}

/**
 * Writes a synthetic YOLO dataset: `dir/images/{train,val}/*.jpg|png`, `dir/labels/{train,val}/*.txt`
 * (an empty file for a background image) and `dir/data.yaml` (path, train, val, nc, names).
 * Every fourth image is a PNG, the rest JPEG. Deterministic: the same options give the same bytes.
 */
export async function generateSyntheticDataset(opts: SyntheticOptions): Promise<SyntheticDataset> {
  const o = {
    img: opts.img ?? 320,
    classes: opts.classes ?? [...DEFAULT_CLASSES],
    backgroundFraction: opts.backgroundFraction ?? 0.1,
    objects: opts.objects ?? ([2, 6] as [number, number]),
    sizes: opts.sizes ?? ([0.1, 0.4] as [number, number]),
  };
  const seed = opts.seed ?? 0;
  for (const c of o.classes)
    if (!SHAPES[c]) throw new Error(`generateSyntheticDataset: unknown class '${c}' (known: ${Object.keys(SHAPES).join(', ')})`);
  if (o.classes.length === 0) throw new Error('generateSyntheticDataset: need at least one class');
  if (!(o.img >= 32)) throw new Error(`generateSyntheticDataset: img must be >= 32 (got ${o.img})`);
  for (const [k, v] of [
    ['train', opts.train],
    ['val', opts.val],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`generateSyntheticDataset: ${k} must be a non-negative integer (got ${v})`);
  }
  if (!(o.objects[0] >= 0 && o.objects[1] >= o.objects[0]))
    throw new Error('generateSyntheticDataset: objects must be [min, max] with 0 <= min <= max');
  if (!(o.sizes[0] > 0 && o.sizes[1] >= o.sizes[0] && o.sizes[1] < 1))
    throw new Error('generateSyntheticDataset: sizes must be [lo, hi] with 0 < lo <= hi < 1');
  const dir = resolve(opts.dir);
  const objects = { train: 0, val: 0 };
  for (const split of ['train', 'val'] as const) {
    const imDir = join(dir, 'images', split),
      lbDir = join(dir, 'labels', split);
    for (const d of [imDir, lbDir]) {
      await mkdir(d, { recursive: true });
      for (const f of await readdir(d)) if (SYNTH_FILE.test(f)) await rm(join(d, f));
    }
    const n = opts[split];
    const BATCH = 4;
    for (let start = 0; start < n; start += BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(BATCH, n - start) }, async (_, k) => {
          const i = start + k;
          const im = synthesizeImage(seed, split, i, o);
          const fmt = i % 4 === 3 ? 'png' : 'jpg';
          const stem = `${split}_${String(i).padStart(6, '0')}`;
          objects[split] += im.labels.length;
          await writeFile(join(imDir, `${stem}.${fmt}`), await encodeImage(im, fmt));
          await writeFile(join(lbDir, `${stem}.txt`), formatLabels(im.labels));
        }),
      );
    }
  }
  const yamlPath = join(dir, 'data.yaml');
  const doc = { path: dir, train: 'images/train', val: 'images/val', nc: o.classes.length, names: o.classes };
  await writeFile(yamlPath, `# Flotilla synthetic detection set (seed ${seed}, img ${o.img})\n${stringify(doc)}`);
  return { yamlPath, dir, names: o.classes, objects };
}
