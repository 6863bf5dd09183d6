// A live line chart on uPlot: points are appended as events arrive and drawn at most once per
// animation frame. `data-points` on the container counts the points (read by browser tests).
import uPlot from '/ui/vendor/uplot/uPlot.esm.js';
import { el } from './util.js';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04'];

export class LineChart {
  /** @param opts {title, x: axis label, series: [name], empty: text while no point} */
  constructor(parent, opts) {
    this.opts = opts;
    this.box = el(
      'div.chart',
      { dataset: { points: 0, chart: opts.id } },
      el('h3', opts.title),
      el('p.muted.empty', opts.empty ?? 'no points yet'),
    );
    parent.append(this.box);
    this.xs = [];
    this.ys = opts.series.map(() => []);
    this.plot = null;
    this.pending = false;
  }

  /** Adds a point at x; values is {seriesName: number}; a missing series gets a gap. */
  add(x, values) {
    const last = this.xs.length - 1;
    if (last >= 0 && this.xs[last] === x) {
      this.opts.series.forEach((s, i) => {
        if (values[s] !== undefined) this.ys[i][last] = values[s];
      });
    } else {
      this.xs.push(x);
      this.opts.series.forEach((s, i) => this.ys[i].push(values[s] ?? null));
    }
    this.box.dataset.points = String(this.xs.length);
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => this.draw());
    }
  }

  draw() {
    this.pending = false;
    if (!this.xs.length) return;
    const data = [this.xs, ...this.ys];
    const width = Math.max(280, this.box.clientWidth - 16);
    if (!this.plot) {
      this.box.querySelector('.empty')?.remove();
      this.plot = new uPlot(
        {
          width,
          height: 220,
          scales: { x: { time: false } },
          axes: [{ label: this.opts.x }, {}],
          series: [
            { label: this.opts.x },
            ...this.opts.series.map((s, i) => ({
              label: s,
              stroke: COLORS[i % COLORS.length],
              width: 1.5,
              spanGaps: true,
              points: { show: this.xs.length < 40 },
            })),
          ],
          legend: { live: true },
        },
        data,
        this.box,
      );
      new ResizeObserver(() => this.plot.setSize({ width: Math.max(280, this.box.clientWidth - 16), height: 220 })).observe(this.box);
    } else {
      this.plot.setData(data);
    }
  }
}
