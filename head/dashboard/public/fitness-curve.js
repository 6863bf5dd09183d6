// The fitness-over-trials curve of a study, drawn as SVG in the page: one dot per trial with a
// fitness at (trial number, fitness), coloured by the trial's state, the best trial ringed, and the
// best-so-far line in trial order. `data-points` counts the dots (read by browser tests).
import { fmt } from './util.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 220;
const PAD = { l: 52, r: 12, t: 10, b: 30 };

function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** An <svg> for `trials` (the study record's) out of `total` trials; `best` is the best trial's number. */
export function fitnessCurve(trials, total, best) {
  const scored = trials.filter((t) => t.fitness !== null).sort((a, b) => a.n - b.n);
  const root = svg('svg', { class: 'fitness-curve', viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-points': scored.length });
  root.append(svg('title', {}, 'fitness over trials (dots) and the best so far (line)'));
  const fs = scored.map((t) => t.fitness);
  let lo = fs.length ? Math.min(...fs) : 0;
  let hi = fs.length ? Math.max(...fs) : 1;
  if (hi - lo < 1e-12) {
    const pad = Math.abs(hi) * 0.1 || 0.5;
    lo -= pad;
    hi += pad;
  }
  const xMax = Math.max(1, total - 1);
  const x = (n) => PAD.l + (n / xMax) * (W - PAD.l - PAD.r);
  const y = (f) => H - PAD.b - ((f - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  // axes with min/max ticks
  root.append(
    svg('line', { class: 'axis', x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b }),
    svg('line', { class: 'axis', x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b }),
    svg('text', { class: 'tick', x: PAD.l - 4, y: y(hi) + 4, 'text-anchor': 'end' }, fmt(hi, 4)),
    svg('text', { class: 'tick', x: PAD.l - 4, y: y(lo) + 4, 'text-anchor': 'end' }, fmt(lo, 4)),
    svg('text', { class: 'tick', x: x(0), y: H - PAD.b + 14, 'text-anchor': 'middle' }, '0'),
    svg('text', { class: 'tick', x: x(xMax), y: H - PAD.b + 14, 'text-anchor': 'middle' }, String(xMax)),
    svg('text', { class: 'label', x: (W + PAD.l) / 2, y: H - 4, 'text-anchor': 'middle' }, 'trial'),
    svg(
      'text',
      { class: 'label', x: 12, y: (H - PAD.b) / 2, transform: `rotate(-90 12 ${(H - PAD.b) / 2})`, 'text-anchor': 'middle' },
      'fitness',
    ),
  );
  if (!scored.length) {
    root.append(svg('text', { class: 'label', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no trial has a fitness yet'));
    return root;
  }
  // best so far: a step line through the running maximum
  let run = -Infinity;
  const pts = [];
  for (const t of scored) {
    if (pts.length) pts.push(`${x(t.n)},${y(run)}`);
    run = Math.max(run, t.fitness);
    pts.push(`${x(t.n)},${y(run)}`);
  }
  pts.push(`${x(Math.max(scored.at(-1).n, trials.length - 1))},${y(run)}`);
  root.append(svg('polyline', { class: 'best-so-far', points: pts.join(' ') }));
  for (const t of scored) {
    const c = svg('circle', {
      class: `trial s-${t.state}${t.n === best ? ' best' : ''}`,
      cx: x(t.n),
      cy: y(t.fitness),
      r: t.n === best ? 5 : 3.5,
      'data-n': t.n,
    });
    c.append(svg('title', {}, `trial ${t.n} (${t.state}): fitness ${fmt(t.fitness, 5)}`));
    root.append(c);
  }
  return root;
}
