/**
 * PR_curve.png, F1_curve.png, P_curve.png and R_curve.png from the curves the metrics were read
 * from (MetricCurves: the same arrays that gave P, R and mAP), one line per class in its palette
 * colour and a thick line for all classes, as val.py draws them.
 */
import type { MetricCurves } from '../metrics/index.ts';
import { smooth } from '../metrics/index.ts';
import { classHex } from './palette.ts';
import { Panel, legend, svgDoc, text, writePicture } from './svg.ts';

export const CURVE_SIZE = { width: 1000, height: 700 } as const;
const ALL = '#1f4fbf';
/** more classes than this: thin grey lines, no per-class legend (as the reference) */
const LEGEND_MAX = 20;

function nameOf(names: readonly string[], c: number): string {
  return names[c] ?? String(c);
}

function mean(rows: readonly Float64Array[], k: number): number {
  let s = 0;
  for (const r of rows) s += r[k];
  return rows.length ? s / rows.length : 0;
}

function frame(title: string, xlabel: string, ylabel: string): Panel {
  return new Panel(90, 50, 600, 560, { x: [0, 1], y: [0, 1], title, xlabel, ylabel, xticks: 5, yticks: 5 });
}

function noData(p: Panel): string {
  return text(p.left + p.w / 2, p.top + p.h / 2, 'no true positives: nothing to draw yet', { size: 16, anchor: 'middle', fill: '#888' });
}

/** PR_curve.png: precision over recall at IoU 0.5 per class, and the mean (its area is mAP@0.5). */
export async function plotPrCurve(curves: MetricCurves | undefined, names: readonly string[], out: string): Promise<string> {
  const p = frame('Precision-Recall Curve', 'Recall', 'Precision');
  const body = [p.frame()];
  const entries: Array<{ label: string; color: string; width?: number }> = [];
  if (!curves || !curves.classes.length) body.push(noData(p));
  else {
    const few = curves.classes.length <= LEGEND_MAX;
    curves.classes.forEach((c, i) => {
      const color = few ? classHex(c) : '#999999';
      body.push(p.line(curves.px, curves.pr[i], { color, width: 1.5 }));
      if (few) entries.push({ label: `${nameOf(names, c)} ${curves.ap50[i].toFixed(3)}`, color });
    });
    const all = Float64Array.from(curves.px, (_, k) => mean(curves.pr, k));
    const map50 = curves.ap50.reduce((a, b) => a + b, 0) / curves.ap50.length;
    body.push(p.line(curves.px, all, { color: ALL, width: 4 }));
    entries.push({ label: `all classes ${map50.toFixed(3)} mAP@0.5`, color: ALL, width: 4 });
  }
  body.push(legend(entries, 710, 50));
  return writePicture(out, svgDoc(CURVE_SIZE.width, CURVE_SIZE.height, body.join('')));
}

/** F1_curve / P_curve / R_curve: a metric over the confidence threshold per class, and the smoothed mean with its best point. */
export async function plotMetricCurve(
  curves: MetricCurves | undefined,
  names: readonly string[],
  which: 'f1' | 'p' | 'r',
  out: string,
): Promise<string> {
  const ylabel = { f1: 'F1', p: 'Precision', r: 'Recall' }[which];
  const p = frame(`${ylabel}-Confidence Curve`, 'Confidence', ylabel);
  const body = [p.frame()];
  const entries: Array<{ label: string; color: string; width?: number }> = [];
  if (!curves || !curves.classes.length) body.push(noData(p));
  else {
    const rows = curves[which];
    const few = curves.classes.length <= LEGEND_MAX;
    curves.classes.forEach((c, i) => {
      const color = few ? classHex(c) : '#999999';
      body.push(p.line(curves.px, rows[i], { color, width: 1.5 }));
      if (few) entries.push({ label: nameOf(names, c), color });
    });
    const all = smooth(
      Float64Array.from(curves.px, (_, k) => mean(rows, k)),
      0.05,
    );
    let best = 0;
    for (let k = 1; k < all.length; k++) if (all[k] > all[best]) best = k;
    body.push(p.line(curves.px, all, { color: ALL, width: 4 }));
    entries.push({ label: `all classes ${all[best].toFixed(2)} at ${curves.px[best].toFixed(3)}`, color: ALL, width: 4 });
  }
  body.push(legend(entries, 710, 50));
  return writePicture(out, svgDoc(CURVE_SIZE.width, CURVE_SIZE.height, body.join('')));
}
