/**
 * The reference's 4-image mosaic: four images around a random centre on a 2s × 2s grey canvas,
 * then random_perspective back to s × s (the -s/2 border).
 */
import { clipXyxy, concatLabels, xywhnToXyxy } from './boxes.ts';
import type { LoadedImage, RgbImage } from './image.ts';
import { PAD_VALUE } from './letterbox.ts';
import { randomPerspective, type PerspectiveHyp } from './perspective.ts';
import type { Rng } from './rng.ts';

/** The images of a mosaic (in placement order: top-left, top-right, bottom-left, bottom-right). */
export interface MosaicTile {
  image: LoadedImage;
  /** normalised [cls, xc, yc, w, h] rows */
  labels: Float32Array;
}

/** Reusable buffers for `mosaic` (one per loader: samples are built one at a time). */
export interface MosaicScratch {
  canvas?: Uint8Array;
  out?: Uint8Array;
}

/**
 * The 2s × 2s canvas with the four tiles around (xc, yc), and their labels in canvas pixels.
 * `scratch` (2s·2s·3 bytes) is reused when given.
 */
export function mosaicCanvas(
  tiles: readonly MosaicTile[],
  s: number,
  xc: number,
  yc: number,
  scratch?: Uint8Array,
): { image: RgbImage; labels: Float32Array } {
  const S = 2 * s;
  const canvas = scratch && scratch.length === S * S * 3 ? scratch : new Uint8Array(S * S * 3);
  canvas.fill(PAD_VALUE);
  const parts: Float32Array[] = [];
  tiles.forEach(({ image: im, labels }, i) => {
    const w = im.width,
      h = im.height;
    let x1a: number, y1a: number, x2a: number, y2a: number, x1b: number, y1b: number;
    if (i === 0) {
      x1a = Math.max(xc - w, 0);
      y1a = Math.max(yc - h, 0);
      x2a = xc;
      y2a = yc;
      x1b = w - (x2a - x1a);
      y1b = h - (y2a - y1a);
    } else if (i === 1) {
      x1a = xc;
      y1a = Math.max(yc - h, 0);
      x2a = Math.min(xc + w, S);
      y2a = yc;
      x1b = 0;
      y1b = h - (y2a - y1a);
    } else if (i === 2) {
      x1a = Math.max(xc - w, 0);
      y1a = yc;
      x2a = xc;
      y2a = Math.min(S, yc + h);
      x1b = w - (x2a - x1a);
      y1b = 0;
    } else {
      x1a = xc;
      y1a = yc;
      x2a = Math.min(xc + w, S);
      y2a = Math.min(S, yc + h);
      x1b = 0;
      y1b = 0;
    }
    const cw = x2a - x1a,
      ch = y2a - y1a;
    if (cw > 0 && ch > 0) {
      for (let y = 0; y < ch; y++) {
        const src = ((y1b + y) * w + x1b) * 3;
        canvas.set(im.data.subarray(src, src + cw * 3), ((y1a + y) * S + x1a) * 3);
      }
    }
    if (labels.length) parts.push(xywhnToXyxy(labels, w, h, x1a - x1b, y1a - y1b));
  });
  const all = concatLabels(parts);
  clipXyxy(all, S, S);
  return { image: { data: canvas, width: S, height: S }, labels: all };
}

/**
 * A mosaic of four tiles, augmented by random_perspective into s × s. Draws the centre and the
 * transform from `rng`; returns pixel xyxy label rows.
 */
export function mosaic(
  tiles: readonly MosaicTile[],
  s: number,
  rng: Rng,
  hyp: PerspectiveHyp,
  scratch: MosaicScratch = {},
): { image: RgbImage; labels: Float32Array } {
  if (tiles.length !== 4) throw new Error(`mosaic: need 4 tiles, got ${tiles.length}`);
  const yc = Math.trunc(rng.uniform(s / 2, 1.5 * s));
  const xc = Math.trunc(rng.uniform(s / 2, 1.5 * s));
  const { image, labels } = mosaicCanvas(tiles, s, xc, yc, scratch.canvas);
  scratch.canvas = image.data;
  const r = randomPerspective(image, labels, rng, hyp, s, s, scratch.out);
  scratch.out = r.image.data;
  return r;
}
