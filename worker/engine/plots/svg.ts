/**
 * The drawing kit of the plots: SVG text built here, rasterised by sharp (librsvg, no browser).
 * Text needs a font fontconfig can find (DejaVu Sans or Liberation Sans; Debian `fonts-dejavu-core`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import sharp from 'sharp';

export const FONT = "'DejaVu Sans', 'Liberation Sans', Arial, sans-serif";

/** XML-escapes text. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** A number for an attribute (2 decimals, no trailing noise). */
export function n2(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '0';
}

/** Text at (x, y); anchor start | middle | end. */
export function text(
  x: number,
  y: number,
  s: string,
  o: { size?: number; anchor?: string; fill?: string; weight?: string; rotate?: number; baseline?: string } = {},
): string {
  const rot = o.rotate ? ` transform="rotate(${o.rotate} ${n2(x)} ${n2(y)})"` : '';
  return `<text x="${n2(x)}" y="${n2(y)}" font-family="${FONT}" font-size="${o.size ?? 14}" text-anchor="${o.anchor ?? 'start'}"${o.baseline ? ` dominant-baseline="${o.baseline}"` : ''} fill="${o.fill ?? '#222'}"${o.weight ? ` font-weight="${o.weight}"` : ''}${rot}>${esc(s)}</text>`;
}

/** About n round tick values covering [lo, hi]. */
export function niceTicks(a: number, b: number, n = 5): number[] {
  const lo = Math.min(a, b),
    hi = Math.max(a, b);
  if (n <= 0) return [];
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickLabel(v: number, ticks: number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  const dec = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9) + (String(step).includes('25') ? 1 : 0)));
  return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-4) ? v.toExponential(1) : v.toFixed(dec);
}

export interface PanelOptions {
  x: [number, number];
  y: [number, number];
  title?: string;
  xlabel?: string;
  ylabel?: string;
  /** tick counts (0: none) */
  xticks?: number;
  yticks?: number;
  grid?: boolean;
  /** only whole-number x ticks (epochs) */
  xInteger?: boolean;
}

/** One plotting area at (left, top) of size w × h with linear axes. */
export class Panel {
  constructor(
    readonly left: number,
    readonly top: number,
    readonly w: number,
    readonly h: number,
    readonly o: PanelOptions,
  ) {}

  px(x: number): number {
    const [a, b] = this.o.x;
    return this.left + ((x - a) / (b - a || 1)) * this.w;
  }

  py(y: number): number {
    const [a, b] = this.o.y;
    return this.top + this.h - ((y - a) / (b - a || 1)) * this.h;
  }

  /** Background, grid, frame, ticks, tick labels, axis labels and title. */
  frame(): string {
    const out: string[] = [`<rect x="${n2(this.left)}" y="${n2(this.top)}" width="${n2(this.w)}" height="${n2(this.h)}" fill="#ffffff"/>`];
    const xt = niceTicks(this.o.x[0], this.o.x[1], this.o.xticks ?? 5).filter((v) => !this.o.xInteger || Number.isInteger(v)),
      yt = niceTicks(this.o.y[0], this.o.y[1], this.o.yticks ?? 5);
    const bottom = this.top + this.h;
    for (const v of xt) {
      const x = this.px(v);
      if (this.o.grid !== false)
        out.push(`<line x1="${n2(x)}" y1="${n2(this.top)}" x2="${n2(x)}" y2="${n2(bottom)}" stroke="#e6e6e6" stroke-width="1"/>`);
      out.push(`<line x1="${n2(x)}" y1="${n2(bottom)}" x2="${n2(x)}" y2="${n2(bottom + 5)}" stroke="#444" stroke-width="1"/>`);
      out.push(text(x, bottom + 19, tickLabel(v, xt), { size: 12, anchor: 'middle', fill: '#444' }));
    }
    for (const v of yt) {
      const y = this.py(v);
      if (this.o.grid !== false)
        out.push(
          `<line x1="${n2(this.left)}" y1="${n2(y)}" x2="${n2(this.left + this.w)}" y2="${n2(y)}" stroke="#e6e6e6" stroke-width="1"/>`,
        );
      out.push(`<line x1="${n2(this.left - 5)}" y1="${n2(y)}" x2="${n2(this.left)}" y2="${n2(y)}" stroke="#444" stroke-width="1"/>`);
      out.push(text(this.left - 8, y + 4, tickLabel(v, yt), { size: 12, anchor: 'end', fill: '#444' }));
    }
    out.push(
      `<rect x="${n2(this.left)}" y="${n2(this.top)}" width="${n2(this.w)}" height="${n2(this.h)}" fill="none" stroke="#444" stroke-width="1"/>`,
    );
    if (this.o.xlabel) out.push(text(this.left + this.w / 2, bottom + 38, this.o.xlabel, { size: 14, anchor: 'middle' }));
    if (this.o.ylabel) out.push(text(this.left - 48, this.top + this.h / 2, this.o.ylabel, { size: 14, anchor: 'middle', rotate: -90 }));
    if (this.o.title) out.push(text(this.left + this.w / 2, this.top - 8, this.o.title, { size: 15, anchor: 'middle', weight: 'bold' }));
    return out.join('');
  }

  /** A polyline through (xs[i], ys[i]), clipped to the panel's y range. */
  line(
    xs: ArrayLike<number>,
    ys: ArrayLike<number>,
    o: { color: string; width?: number; dash?: string; markers?: boolean; opacity?: number },
  ): string {
    const pts: string[] = [];
    const [ya, yb] = this.o.y;
    const lo = Math.min(ya, yb),
      hi = Math.max(ya, yb);
    for (let i = 0; i < xs.length; i++) {
      if (!Number.isFinite(ys[i])) continue;
      pts.push(`${n2(this.px(xs[i]))},${n2(this.py(Math.min(hi, Math.max(lo, ys[i]))))}`);
    }
    if (!pts.length) return '';
    const dash = o.dash ? ` stroke-dasharray="${o.dash}"` : '';
    const op = o.opacity !== undefined ? ` stroke-opacity="${o.opacity}"` : '';
    let s = `<polyline points="${pts.join(' ')}" fill="none" stroke="${o.color}" stroke-width="${o.width ?? 2}"${dash}${op} stroke-linejoin="round"/>`;
    if (o.markers)
      s += pts
        .map((p) => {
          const [x, y] = p.split(',');
          return `<circle cx="${x}" cy="${y}" r="3.5" fill="${o.color}"/>`;
        })
        .join('');
    return s;
  }
}

/** A legend box: one line per entry, top-left at (x, y). */
export function legend(
  entries: ReadonlyArray<{ label: string; color: string; width?: number; dash?: string }>,
  x: number,
  y: number,
  size = 12,
): string {
  if (!entries.length) return '';
  const lh = size + 6;
  const w = 34 + Math.max(...entries.map((e) => e.label.length)) * size * 0.62;
  const out = [
    `<rect x="${n2(x)}" y="${n2(y)}" width="${n2(w)}" height="${n2(entries.length * lh + 8)}" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>`,
  ];
  entries.forEach((e, i) => {
    const cy = y + 4 + lh * i + lh / 2;
    out.push(
      `<line x1="${n2(x + 6)}" y1="${n2(cy)}" x2="${n2(x + 26)}" y2="${n2(cy)}" stroke="${e.color}" stroke-width="${e.width ?? 2}"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}/>`,
    );
    out.push(text(x + 30, cy + size * 0.35, e.label, { size }));
  });
  return out.join('');
}

/** A whole SVG document, on a white background unless `transparent` (an overlay). */
export function svgDoc(width: number, height: number, body: string, transparent = false): string {
  const bg = transparent ? '' : `<rect width="${width}" height="${height}" fill="#ffffff"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${bg}${body}</svg>`;
}

/** Rasterises an SVG (with an optional RGB image underneath) to `file` as PNG or JPEG by its extension. */
export async function writePicture(file: string, svg: string, base?: { data: Uint8Array; width: number; height: number }): Promise<string> {
  mkdirSync(dirname(file), { recursive: true });
  let p = base
    ? sharp(base.data, { raw: { width: base.width, height: base.height, channels: 3 } }).composite([
        { input: Buffer.from(svg), top: 0, left: 0 },
      ])
    : sharp(Buffer.from(svg), { density: 72 });
  p = p.flatten({ background: '#ffffff' });
  const ext = extname(file).toLowerCase();
  const bytes =
    ext === '.png'
      ? await p.png({ compressionLevel: 6 }).toBuffer()
      : await p.jpeg({ quality: 90, mozjpeg: false, chromaSubsampling: '4:4:4' }).toBuffer(); // 4:4:4: thin coloured lines keep their colour
  writeFileSync(file, bytes);
  return file;
}
