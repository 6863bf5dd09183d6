/**
 * confusion_matrix.png: the detection confusion matrix with its background row and column
 * (metrics/confusion.ts, filled from the same detections and labels as P/R/mAP), each column
 * normalised by its total as the reference draws it (a column of a class with no labels stays
 * empty), True classes across, Predicted down.
 */
import type { ConfusionMatrix } from '../metrics/index.ts';
import { esc, n2, svgDoc, text, writePicture, FONT } from './svg.ts';

/** Where cell (p, t) is: its top-left corner is (left + t·cell, top + p·cell). */
export interface ConfusionLayout {
  left: number;
  top: number;
  cell: number;
  width: number;
  height: number;
}

export function confusionLayout(nc: number): ConfusionLayout {
  const n = nc + 1;
  const cell = Math.max(14, Math.min(90, Math.floor(720 / n)));
  const left = 170,
    top = 60;
  return { left, top, cell, width: left + n * cell + 130, height: top + n * cell + 150 };
}

/** The Blues colour map at v in [0, 1]. */
export function blues(v: number): [number, number, number] {
  const a = [247, 251, 255],
    b = [8, 48, 107];
  const t = Math.min(1, Math.max(0, v));
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)) as [number, number, number];
}

/** Column-normalised values (a column without counts stays 0). */
export function normalisedColumns(cm: ConfusionMatrix): number[][] {
  const rows = cm.rows();
  const n = cm.nc + 1;
  const sums = Array.from({ length: n }, (_, t) => rows.reduce((s, r) => s + r[t], 0));
  return rows.map((r) => r.map((v, t) => (sums[t] > 0 ? v / sums[t] : 0)));
}

export async function plotConfusionMatrix(cm: ConfusionMatrix, names: readonly string[], out: string): Promise<string> {
  const n = cm.nc + 1;
  const L = confusionLayout(cm.nc);
  const labels = [...Array.from({ length: cm.nc }, (_, i) => names[i] ?? String(i)), 'background'];
  const norm = normalisedColumns(cm);
  const annotate = cm.nc < 30;
  const fs = Math.max(8, Math.min(14, Math.floor(L.cell / 4)));
  const body: string[] = [text(L.left + (n * L.cell) / 2, 32, 'Confusion Matrix', { size: 18, anchor: 'middle', weight: 'bold' })];
  for (let p = 0; p < n; p++) {
    for (let t = 0; t < n; t++) {
      const v = norm[p][t];
      const x = L.left + t * L.cell,
        y = L.top + p * L.cell;
      // as the reference: values under 0.005 are left blank
      if (v >= 0.005) {
        const [r, g, b] = blues(v);
        body.push(`<rect x="${x}" y="${y}" width="${L.cell}" height="${L.cell}" fill="rgb(${r},${g},${b})"/>`);
        if (annotate)
          body.push(
            text(x + L.cell / 2, y + L.cell / 2 + fs * 0.35, v.toFixed(2), {
              size: fs,
              anchor: 'middle',
              fill: v > 0.5 ? '#ffffff' : '#222',
            }),
          );
      }
    }
  }
  body.push(`<rect x="${L.left}" y="${L.top}" width="${n * L.cell}" height="${n * L.cell}" fill="none" stroke="#444"/>`);
  const ls = Math.max(8, Math.min(13, L.cell - 2));
  labels.forEach((name, i) => {
    const c = L.left + i * L.cell + L.cell / 2,
      r = L.top + i * L.cell + L.cell / 2;
    const shown = name.length > 16 ? `${name.slice(0, 15)}…` : name;
    body.push(
      `<text x="${n2(c)}" y="${L.top + n * L.cell + 10}" font-family="${FONT}" font-size="${ls}" text-anchor="end" fill="#222" transform="rotate(-90 ${n2(c)} ${L.top + n * L.cell + 10}) translate(0 ${n2(ls * 0.35)})">${esc(shown)}</text>`,
    );
    body.push(text(L.left - 8, r + ls * 0.35, shown, { size: ls, anchor: 'end' }));
  });
  body.push(text(L.left + (n * L.cell) / 2, L.height - 12, 'True', { size: 15, anchor: 'middle' }));
  body.push(text(22, L.top + (n * L.cell) / 2, 'Predicted', { size: 15, anchor: 'middle', rotate: -90 }));
  // colour bar
  const bx = L.left + n * L.cell + 30,
    bh = n * L.cell;
  for (let k = 0; k < 50; k++) {
    const [r, g, b] = blues(1 - k / 49);
    body.push(`<rect x="${bx}" y="${n2(L.top + (k * bh) / 50)}" width="20" height="${n2(bh / 50 + 0.6)}" fill="rgb(${r},${g},${b})"/>`);
  }
  body.push(`<rect x="${bx}" y="${L.top}" width="20" height="${bh}" fill="none" stroke="#444"/>`);
  for (const v of [0, 0.2, 0.4, 0.6, 0.8, 1]) body.push(text(bx + 26, L.top + bh * (1 - v) + 4, v.toFixed(1), { size: 11 }));
  return writePicture(out, svgDoc(L.width, L.height, body.join('')));
}
