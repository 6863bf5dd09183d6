/** results.png: the ten curves of results.csv (losses, precision, recall, mAP) per epoch, as train.py plots them. */
import { readFileSync } from 'node:fs';
import { Panel, legend, svgDoc, writePicture } from './svg.ts';

/** The panels in train.py's order (two rows of five). */
export const RESULTS_PANELS = [
  'train/box_loss',
  'train/obj_loss',
  'train/cls_loss',
  'metrics/precision',
  'metrics/recall',
  'val/box_loss',
  'val/obj_loss',
  'val/cls_loss',
  'metrics/mAP_0.5',
  'metrics/mAP_0.5:0.95',
] as const;

/** results.csv as columns by header name (the values of every row, in order). */
export function readResultsCsv(file: string): Map<string, number[]> {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0);
  if (!lines.length) return new Map();
  const head = lines[0].split(',').map((c) => c.trim());
  const cols = new Map(head.map((h) => [h, [] as number[]]));
  for (const line of lines.slice(1)) line.split(',').forEach((v, i) => cols.get(head[i])?.push(Number(v.trim())));
  return cols;
}

/** Gaussian smoothing (sigma in samples, edges held), the dotted line beside each curve. */
export function gaussianSmooth(y: readonly number[], sigma = 3): number[] {
  const r = Math.ceil(4 * sigma);
  const w = Array.from({ length: 2 * r + 1 }, (_, k) => Math.exp(-((k - r) ** 2) / (2 * sigma * sigma)));
  const sw = w.reduce((a, b) => a + b, 0);
  return y.map((_, i) => {
    let s = 0;
    for (let k = -r; k <= r; k++) s += w[k + r] * y[Math.min(y.length - 1, Math.max(0, i + k))];
    return s / sw;
  });
}

export const RESULTS_SIZE = { width: 1600, height: 760 } as const;

/** Draws results.png from `csvFile` into `out`. */
export async function plotResults(csvFile: string, out: string): Promise<string> {
  const cols = readResultsCsv(csvFile);
  const epochs = cols.get('epoch') ?? [];
  const { width, height } = RESULTS_SIZE;
  const pw = 240,
    ph = 250,
    gx = 80,
    gy = 95;
  const body: string[] = [];
  RESULTS_PANELS.forEach((name, i) => {
    const ys = cols.get(name) ?? [];
    const finite = ys.filter(Number.isFinite);
    let lo = finite.length ? Math.min(...finite) : 0,
      hi = finite.length ? Math.max(...finite) : 1;
    if (hi - lo < 1e-9) {
      lo -= 0.5 * (Math.abs(lo) || 1) * 0.1;
      hi += 0.5 * (Math.abs(hi) || 1) * 0.1;
    }
    const pad = (hi - lo) * 0.06;
    const x0 = epochs.length ? epochs[0] : 0,
      x1 = epochs.length > 1 ? epochs[epochs.length - 1] : x0 + 1;
    const p = new Panel(70 + (i % 5) * (pw + gx), 40 + Math.floor(i / 5) * (ph + gy), pw, ph, {
      x: [x0, x1],
      y: [lo - pad, hi + pad],
      title: name,
      xlabel: 'epoch',
      xticks: 4,
      xInteger: true,
    });
    body.push(p.frame(), p.line(epochs, ys, { color: '#1f77b4', width: 2, markers: epochs.length <= 60 }));
    if (ys.length >= 3) body.push(p.line(epochs, gaussianSmooth(ys), { color: '#ff7f0e', width: 2, dash: '3 3' }));
  });
  body.push(
    legend(
      [
        { label: 'results', color: '#1f77b4' },
        { label: 'smooth', color: '#ff7f0e', dash: '3 3' },
      ],
      width - 160,
      height - 52,
    ),
  );
  return writePicture(out, svgDoc(width, height, body.join('')));
}
