/**
 * train_batchN.jpg, val_batchN_labels.jpg and val_batchN_pred.jpg (train.py's plot_images): up
 * to 16 images of a batch on a square grid, each with its boxes in the class's palette colour
 * and the class name (predictions: name and confidence, those above 0.25 only). Small images are
 * scaled up so that a tile is at least MIN_TILE px (names stay readable); the grid is scaled
 * down to at most MAX_SIZE px.
 */
import { classHex, textOn } from './palette.ts';
import { esc, n2, svgDoc, writePicture, FONT } from './svg.ts';

export const MAX_SUBPLOTS = 16;
export const MAX_SIZE = 1920;
export const MIN_TILE = 192;
/** predictions under this confidence are not drawn */
export const PRED_CONF = 0.25;

/** A batch as the loader yields it: NHWC floats in [0, 1], targets rows [image, cls, xc, yc, w, h] normalised. */
export interface PictureBatch {
  readonly images: Float32Array;
  readonly batchSize: number;
  readonly height: number;
  readonly width: number;
  readonly targets: Float32Array;
}

/** Where image i of the grid is: tile (i % ns, ⌊i / ns⌋), each tile tileW × tileH, image pixels times `scale`. */
export interface GridLayout {
  ns: number;
  scale: number;
  tileW: number;
  tileH: number;
  width: number;
  height: number;
  images: number;
}

export function gridLayout(batchSize: number, height: number, width: number): GridLayout {
  const images = Math.min(batchSize, MAX_SUBPLOTS);
  const ns = Math.ceil(Math.sqrt(images));
  let scale = Math.max(1, MIN_TILE / Math.max(height, width));
  if (ns * Math.max(height, width) * scale > MAX_SIZE) scale = MAX_SIZE / (ns * Math.max(height, width));
  const tileW = Math.round(width * scale),
    tileH = Math.round(height * scale);
  return { ns, scale, tileW, tileH, width: ns * tileW, height: Math.ceil(images / ns) * tileH, images };
}

/** The grid of images as packed RGB bytes (white between tiles), bilinear resampling. */
function composeGrid(b: PictureBatch, L: GridLayout): Uint8Array {
  const out = new Uint8Array(L.width * L.height * 3).fill(255);
  const { width: W, height: H } = b;
  for (let i = 0; i < L.images; i++) {
    const ox = (i % L.ns) * L.tileW,
      oy = Math.floor(i / L.ns) * L.tileH;
    const base = i * W * H * 3;
    for (let y = 0; y < L.tileH; y++) {
      const sy = Math.min(H - 1, Math.max(0, (y + 0.5) / L.scale - 0.5));
      const y0 = Math.floor(sy),
        y1 = Math.min(H - 1, y0 + 1),
        fy = sy - y0;
      for (let x = 0; x < L.tileW; x++) {
        const sx = Math.min(W - 1, Math.max(0, (x + 0.5) / L.scale - 0.5));
        const x0 = Math.floor(sx),
          x1 = Math.min(W - 1, x0 + 1),
          fx = sx - x0;
        const o = ((oy + y) * L.width + ox + x) * 3;
        for (let ch = 0; ch < 3; ch++) {
          const a = b.images[base + (y0 * W + x0) * 3 + ch],
            bb = b.images[base + (y0 * W + x1) * 3 + ch];
          const c = b.images[base + (y1 * W + x0) * 3 + ch],
            d = b.images[base + (y1 * W + x1) * 3 + ch];
          const v = (a * (1 - fx) + bb * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
          out[o + ch] = Math.round(Math.min(1, Math.max(0, v)) * 255);
        }
      }
    }
  }
  return out;
}

/** One box to draw on image `image`: pixel corners in the batch's own pixels. */
export interface PictureBox {
  image: number;
  cls: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  conf?: number;
}

/** The batch's labels as boxes in its pixels. */
export function targetBoxes(b: PictureBatch): PictureBox[] {
  const out: PictureBox[] = [];
  for (let r = 0; r < b.targets.length; r += 6) {
    const xc = b.targets[r + 2] * b.width,
      yc = b.targets[r + 3] * b.height,
      w = b.targets[r + 4] * b.width,
      h = b.targets[r + 5] * b.height;
    out.push({ image: b.targets[r], cls: b.targets[r + 1], x1: xc - w / 2, y1: yc - h / 2, x2: xc + w / 2, y2: yc + h / 2 });
  }
  return out;
}

/** Detections (per image rows [x1, y1, x2, y2, conf, cls]) as boxes, those above PRED_CONF. */
export function predictionBoxes(dets: readonly ArrayLike<number>[]): PictureBox[] {
  const out: PictureBox[] = [];
  dets.forEach((d, image) => {
    for (let r = 0; r + 5 < d.length; r += 6)
      if (d[r + 4] > PRED_CONF) out.push({ image, cls: d[r + 5], x1: d[r], y1: d[r + 1], x2: d[r + 2], y2: d[r + 3], conf: d[r + 4] });
  });
  return out;
}

/** Line width of the boxes for a layout. */
export function boxLineWidth(L: GridLayout): number {
  return Math.max(3, Math.round(Math.min(L.tileW, L.tileH) / 120));
}

/** Draws `boxes` on the grid of `batch` into `out` (.jpg). */
export async function plotBatch(batch: PictureBatch, boxes: readonly PictureBox[], names: readonly string[], out: string): Promise<string> {
  const L = gridLayout(batch.batchSize, batch.height, batch.width);
  const lw = boxLineWidth(L);
  const fs = Math.max(11, Math.min(18, Math.round(L.tileH / 16)));
  const body: string[] = [];
  for (let i = 0; i < L.images; i++) {
    const ox = (i % L.ns) * L.tileW,
      oy = Math.floor(i / L.ns) * L.tileH;
    body.push(`<rect x="${ox}" y="${oy}" width="${L.tileW}" height="${L.tileH}" fill="none" stroke="#ffffff" stroke-width="2"/>`);
  }
  // labels last so that no box hides a name
  const tags: string[] = [];
  for (const b of boxes) {
    if (b.image >= L.images) continue;
    const ox = (b.image % L.ns) * L.tileW,
      oy = Math.floor(b.image / L.ns) * L.tileH;
    const x1 = ox + b.x1 * L.scale,
      y1 = oy + b.y1 * L.scale,
      x2 = ox + b.x2 * L.scale,
      y2 = oy + b.y2 * L.scale;
    const color = classHex(b.cls);
    body.push(
      `<rect x="${n2(x1)}" y="${n2(y1)}" width="${n2(x2 - x1)}" height="${n2(y2 - y1)}" fill="none" stroke="${color}" stroke-width="${lw}"/>`,
    );
    const label = `${names[b.cls] ?? String(b.cls)}${b.conf === undefined ? '' : ` ${b.conf.toFixed(1)}`}`;
    const tw = label.length * fs * 0.56 + 6,
      th = fs + 4; // DejaVu Sans: about 0.55 em a character
    const ty = y1 - th >= oy ? y1 - th : y1; // above the box, or inside it at the tile's top edge
    tags.push(`<rect x="${n2(x1 - lw / 2)}" y="${n2(ty)}" width="${n2(tw)}" height="${n2(th)}" fill="${color}"/>`);
    tags.push(
      `<text x="${n2(x1 - lw / 2 + 3)}" y="${n2(ty + th - 4)}" font-family="${FONT}" font-size="${fs}" fill="${textOn(b.cls)}">${esc(label)}</text>`,
    );
  }
  const svg = svgDoc(L.width, L.height, `${body.join('')}${tags.join('')}`, true); // an overlay: the images show through
  return writePicture(out, svg, { data: composeGrid(batch, L), width: L.width, height: L.height });
}
