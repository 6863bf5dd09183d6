/** Annotated images: boxes and "name conf" labels drawn as an SVG overlay composited by sharp. */
import sharp from 'sharp';
import type { RgbImage } from '../data/index.ts';
import { classHex as classColor } from '../plots/palette.ts';

/** One box to draw, in image pixels. */
export interface DrawBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  cls: number;
  label: string;
}

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Draws `boxes` on `im` and encodes it ('jpg' or 'png'). Line width as Ultralytics' Annotator:
 * max(round((w + h) / 2 · 0.003), 2); labels in white on the class colour above the box (inside
 * it when there is no room above).
 */
export async function drawDetections(im: RgbImage, boxes: readonly DrawBox[], format: 'jpg' | 'png'): Promise<Buffer> {
  const lw = Math.max(Math.round(((im.width + im.height) / 2) * 0.003), 2);
  const font = Math.max(lw * 5, 10);
  const parts: string[] = [];
  for (const b of boxes) {
    const c = classColor(b.cls);
    const w = Math.max(b.x2 - b.x1, 1),
      h = Math.max(b.y2 - b.y1, 1);
    parts.push(
      `<rect x="${b.x1.toFixed(1)}" y="${b.y1.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="${c}" stroke-width="${lw}"/>`,
    );
    // a label box sized from the text length (the SVG renderer measures nothing back to us)
    const tw = Math.ceil(b.label.length * font * 0.6) + 2 * lw,
      th = font + lw;
    const above = b.y1 - th >= 0;
    const ty = above ? b.y1 - th : b.y1;
    parts.push(`<rect x="${b.x1.toFixed(1)}" y="${ty.toFixed(1)}" width="${tw}" height="${th}" fill="${c}"/>`);
    parts.push(
      `<text x="${(b.x1 + lw).toFixed(1)}" y="${(ty + font * 0.85).toFixed(1)}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${font}" fill="#FFFFFF">${esc(b.label)}</text>`,
    );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${im.width}" height="${im.height}">${parts.join('')}</svg>`;
  const s = sharp(Buffer.from(im.data.buffer, im.data.byteOffset, im.data.byteLength), {
    raw: { width: im.width, height: im.height, channels: 3 },
  })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .removeAlpha();
  return format === 'png' ? s.png().toBuffer() : s.jpeg({ quality: 95 }).toBuffer();
}
