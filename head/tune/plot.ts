/**
 * evolve.svg: train.py's evolve.png as SVG text: one panel per searched key, each scored trial
 * a dot at (its value, its fitness), the best trial a cross, the panel titled `key = best value`.
 * Pure; rendered from the study record like the other study artifacts.
 */
import type { StudyRecord } from '../../shared/schemas/study.ts';
import { genesOf } from './space.ts';

const W = 200;
const H = 160;
const PAD = 28;
const COLS = 5;

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
const num = (x: number) => Number(x.toPrecision(4)).toString();

/** The SVG, or null before any trial has a fitness. */
export function evolveSvg(st: StudyRecord): string | null {
  const done = st.trials.filter((t) => t.fitness !== null);
  if (!done.length) return null;
  const best = done.reduce((a, b) => ((b.fitness as number) > (a.fitness as number) ? b : a));
  const genes = genesOf(st.spec);
  const fs = done.map((t) => t.fitness as number);
  const [f0, f1] = [Math.min(...fs), Math.max(...fs)];
  const y = (f: number) => H - PAD - ((f - f0) / (f1 - f0 || 1)) * (H - 2 * PAD);
  const panels = genes.map((g, i) => {
    const x = (v: number) => PAD + ((v - g.lower) / (g.upper - g.lower || 1)) * (W - 2 * PAD);
    const ox = (i % COLS) * W;
    const oy = Math.floor(i / COLS) * H;
    const dots = done.map(
      (t) =>
        `<circle class="trial" cx="${x(t.hyp[g.key]).toFixed(1)}" cy="${y(t.fitness as number).toFixed(1)}" r="2.5"><title>trial ${t.n}: ${esc(g.key)}=${num(t.hyp[g.key])} fitness=${num(t.fitness as number)}</title></circle>`,
    );
    const bx = x(best.hyp[g.key]);
    const by = y(best.fitness as number);
    return (
      `<g class="gene" data-key="${esc(g.key)}" transform="translate(${ox},${oy})">` +
      `<rect x="${PAD}" y="${PAD}" width="${W - 2 * PAD}" height="${H - 2 * PAD}" fill="none" stroke="#ccc"/>` +
      `<text x="${W / 2}" y="${PAD - 8}" text-anchor="middle" font-size="11">${esc(g.key)} = ${num(best.hyp[g.key])}</text>` +
      `<text x="${PAD}" y="${H - PAD + 12}" font-size="9">${num(g.lower)}</text><text x="${W - PAD}" y="${H - PAD + 12}" font-size="9" text-anchor="end">${num(g.upper)}</text>` +
      dots.join('') +
      `<path class="best" d="M${(bx - 6).toFixed(1)},${by.toFixed(1)}h12M${bx.toFixed(1)},${(by - 6).toFixed(1)}v12" stroke="#000" stroke-width="2"/></g>`
    );
  });
  const rows = Math.ceil(genes.length / COLS);
  const width = Math.min(genes.length, COLS) * W;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${rows * H + 20}" viewBox="0 0 ${width} ${rows * H + 20}" font-family="sans-serif">` +
    `<style>.trial{fill:#1f77b4;fill-opacity:.6}</style>` +
    `<text x="4" y="${rows * H + 14}" font-size="10">fitness ${num(f0)}..${num(f1)} (vertical) per hyperparameter; + best: trial ${best.n}</text>` +
    panels.join('') +
    '</svg>\n'
  );
}
