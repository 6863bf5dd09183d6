// Small DOM and formatting helpers shared by the pages.

/** el('td.num', {title}, child, …): an element with optional classes, attributes and children. */
export function el(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const e = document.createElement(name);
  if (classes.length) e.className = classes.join(' ');
  if (attrs !== undefined && attrs !== null && (typeof attrs !== 'object' || attrs instanceof Node)) children.unshift(attrs);
  else if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function age(iso) {
  const s = Math.max(0, (Date.now() - (typeof iso === 'number' ? iso : Date.parse(iso))) / 1000);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}`;
  return `${Math.floor(s / 86400)}d`;
}

export const fmt = (x, digits = 4) => (typeof x === 'number' && Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : '–');

export function badge(state) {
  return el(`span.badge.s-${state}`, state);
}

/** The number of steps a job will run, when the spec says (logreg: steps; yolov5: unknown until it reports). */
export function totalSteps(job) {
  return job.spec.trainer.kind === 'logreg' ? job.spec.trainer.steps : job.metrics?.total_steps;
}

/** "step 12/50" or "epoch 3/10 · step 120" */
export function progress(job) {
  const t = job.spec.trainer;
  const total = totalSteps(job);
  const ep = t.kind === 'yolov5' && job.metrics?.epoch !== undefined ? `epoch ${job.metrics.epoch + 1}/${t.epochs} · ` : '';
  return `${ep}step ${job.step}${total ? `/${total}` : ''}`;
}

export const TERMINAL = ['succeeded', 'failed', 'cancelled'];
