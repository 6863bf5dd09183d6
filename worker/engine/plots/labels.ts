/**
 * labels.jpg and labels_correlogram.jpg: what the training labels look like before a step is
 * taken (train.py's plot_labels). labels.jpg: instances per class (bars in the palette colours,
 * named), the first 1000 boxes drawn centred, box centres (x, y) and box sizes (width, height).
 * labels_correlogram.jpg: every pair of x, y, width, height (histograms on the diagonal).
 * Large sets are drawn from an even subsample of MAX_POINTS boxes (the counts use every label).
 */
import { classHex } from './palette.ts';
import { Panel, esc, n2, svgDoc, text, writePicture, FONT } from './svg.ts';

export const MAX_POINTS = 5000;
export const LABELS_SIZE = 1200;

/** Label rows [cls, xc, yc, w, h] (normalised) of every image, flattened. */
export function flattenLabels(perImage: ReadonlyArray<ArrayLike<number>>): Float32Array {
  const total = perImage.reduce((s, a) => s + a.length, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const a of perImage) {
    out.set(a as ArrayLike<number>, o);
    o += a.length;
  }
  return out;
}

/** Instances per class id 0..nc-1 (ids outside are ignored). */
export function classCounts(rows: ArrayLike<number>, nc: number): number[] {
  const counts = new Array<number>(nc).fill(0);
  for (let r = 0; r < rows.length; r += 5) {
    const c = rows[r];
    if (c >= 0 && c < nc) counts[c]++;
  }
  return counts;
}

function sampleRows(rows: ArrayLike<number>): number[] {
  const n = rows.length / 5;
  const step = Math.max(1, n / MAX_POINTS);
  const out: number[] = [];
  for (let k = 0; k < n && out.length < MAX_POINTS; k++) out.push(Math.floor(k * step));
  return out.filter((i) => i < n);
}

function bars(p: Panel, counts: number[], names: readonly string[]): string {
  const out = [p.frame()];
  const nc = counts.length;
  const bw = p.w / Math.max(nc, 1);
  counts.forEach((v, c) => {
    const y = p.py(v);
    out.push(
      `<rect x="${n2(p.left + c * bw + bw * 0.1)}" y="${n2(y)}" width="${n2(bw * 0.8)}" height="${n2(p.top + p.h - y)}" fill="${classHex(c)}"/>`,
    );
    if (nc <= 30) {
      const cx = p.left + c * bw + bw / 2,
        by = p.top + p.h + 8;
      out.push(
        `<text x="${n2(cx)}" y="${n2(by)}" font-family="${FONT}" font-size="12" text-anchor="end" fill="#222" transform="rotate(-90 ${n2(cx)} ${n2(by)}) translate(0 4)">${esc(names[c] ?? String(c))}</text>`,
      );
    }
  });
  return out.join('');
}

function scatter(p: Panel, xs: number[], ys: number[], colors: string[]): string {
  const r = xs.length > 2000 ? 1.6 : 2.6;
  return xs.map((x, i) => `<circle cx="${n2(p.px(x))}" cy="${n2(p.py(ys[i]))}" r="${r}" fill="${colors[i]}" fill-opacity="0.5"/>`).join('');
}

function histogram(p: Panel, v: number[], bins = 30): string {
  const counts = new Array<number>(bins).fill(0);
  for (const x of v) counts[Math.min(bins - 1, Math.max(0, Math.floor(x * bins)))]++;
  const max = Math.max(1, ...counts);
  return counts
    .map((c, k) => {
      const h = (c / max) * p.h;
      return `<rect x="${n2(p.left + (k * p.w) / bins)}" y="${n2(p.top + p.h - h)}" width="${n2(p.w / bins)}" height="${n2(h)}" fill="#1f77b4" fill-opacity="0.8"/>`;
    })
    .join('');
}

/** Draws labels.jpg into `out`. */
export async function plotLabels(rows: ArrayLike<number>, nc: number, names: readonly string[], out: string): Promise<string> {
  const counts = classCounts(rows, nc);
  const pick = sampleRows(rows);
  const cls = pick.map((i) => rows[i * 5]),
    x = pick.map((i) => rows[i * 5 + 1]),
    y = pick.map((i) => rows[i * 5 + 2]);
  const w = pick.map((i) => rows[i * 5 + 3]),
    h = pick.map((i) => rows[i * 5 + 4]);
  const colors = cls.map((c) => classHex(c));
  const S = 440,
    L1 = 110,
    L2 = 700,
    T1 = 50,
    T2 = 650;
  const body: string[] = [];
  const maxCount = Math.max(1, ...counts);
  body.push(
    bars(
      new Panel(L1, T1, S, S, {
        x: [0, Math.max(nc, 1)],
        y: [0, maxCount * 1.08],
        title: `instances per class (${rows.length / 5} labels)`,
        ylabel: 'instances',
        xticks: 0,
      }),
      counts,
      names,
    ),
  );
  // the first 1000 boxes centred on one canvas: their shapes and sizes at a glance
  const boxes = new Panel(L2, T1, S, S, { x: [0, 1], y: [0, 1], title: 'boxes (first 1000, centred)', grid: false });
  body.push(boxes.frame());
  for (let i = 0; i < Math.min(1000, rows.length / 5); i++) {
    const bw = rows[i * 5 + 3] * S,
      bh = rows[i * 5 + 4] * S;
    body.push(
      `<rect x="${n2(L2 + S / 2 - bw / 2)}" y="${n2(T1 + S / 2 - bh / 2)}" width="${n2(bw)}" height="${n2(bh)}" fill="none" stroke="${classHex(rows[i * 5])}" stroke-opacity="0.6" stroke-width="1.5"/>`,
    );
  }
  const centres = new Panel(L1, T2, S, S, { x: [0, 1], y: [1, 0], title: 'box centres', xlabel: 'x', ylabel: 'y' });
  body.push(centres.frame(), scatter(centres, x, y, colors));
  const sizes = new Panel(L2, T2, S, S, { x: [0, 1], y: [0, 1], title: 'box sizes', xlabel: 'width', ylabel: 'height' });
  body.push(sizes.frame(), scatter(sizes, w, h, colors));
  return writePicture(out, svgDoc(LABELS_SIZE, LABELS_SIZE + 40, body.join('')));
}

/** Draws labels_correlogram.jpg into `out`: x, y, width, height against each other. */
export async function plotLabelsCorrelogram(rows: ArrayLike<number>, out: string): Promise<string> {
  const pick = sampleRows(rows);
  const vars = [1, 2, 3, 4].map((k) => pick.map((i) => rows[i * 5 + k]));
  const names = ['x', 'y', 'width', 'height'];
  const S = 240,
    G = 40,
    L = 90,
    T = 30;
  const body: string[] = [];
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      const p = new Panel(L + c * (S + G), T + r * (S + G), S, S, {
        x: [0, 1],
        y: [0, 1],
        xlabel: r === 3 ? names[c] : undefined,
        ylabel: c === 0 ? names[r] : undefined,
        xticks: 2,
        yticks: 2,
      });
      body.push(p.frame());
      if (r === c) body.push(histogram(p, vars[c]));
      else
        body.push(
          vars[c]
            .map((v, i) => `<circle cx="${n2(p.px(v))}" cy="${n2(p.py(vars[r][i]))}" r="1.8" fill="#1f77b4" fill-opacity="0.35"/>`)
            .join(''),
        );
    }
  }
  if (!pick.length) body.push(text(L + 2 * (S + G), T + 2 * (S + G), 'no labels', { size: 20, anchor: 'middle', fill: '#888' }));
  const size = L + 4 * (S + G) + 10;
  return writePicture(out, svgDoc(size, size + 20, body.join('')));
}
