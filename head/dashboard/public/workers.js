// Workers page: cluster figures (jobs by state, slots, steps/s) and the node table, polled
// every second. Steps/s is the sum over running jobs of their step increase between polls.
// Each GPU of a node gets a line: index, model, memory used/total, utilisation (nvidia-smi,
// refreshed with heartbeats; '-' for a declared inventory) and who holds it.
import { api } from './api.js';
import { LineChart } from './chart.js';
import { el, age, badge } from './util.js';

const STATES = ['pending', 'running', 'recovering', 'succeeded', 'failed', 'cancelled'];

export async function renderWorkers(root, signal) {
  const figures = el('section.figures');
  const tbody = el('tbody');
  const history = el('section.charts');
  root.append(
    figures,
    history,
    el(
      'section.card',
      el('h2', 'Workers'),
      el(
        'table.workers',
        el(
          'thead',
          el(
            'tr',
            ...['node', 'host', 'backend', 'device', 'slots busy/total', 'GPUs', 'actors', 'heartbeat', 'started', 'state'].map((h) =>
              el('th', h),
            ),
          ),
        ),
        tbody,
      ),
    ),
  );
  let prev = null; // {t, steps: Map(id -> step)}
  let rate = null;
  const t0 = performance.now();
  const chart = new LineChart(history, {
    id: 'cluster',
    title: 'Cluster since this page opened',
    x: 'seconds',
    series: ['steps/s', 'busy slots', 'running jobs'],
    empty: 'collecting…',
  });
  const poll = async () => {
    let jobs, workers;
    try {
      [{ jobs }, { workers }] = await Promise.all([api('/v1/jobs?limit=1000', { signal }), api('/v1/workers', { signal })]);
    } catch (e) {
      if (!signal.aborted) figures.replaceChildren(el('p.error', `could not load: ${e.message}`));
      return;
    }
    const now = performance.now();
    const steps = new Map(jobs.filter((j) => j.state === 'running').map((j) => [j.id, j.step]));
    if (prev && now > prev.t) {
      let d = 0;
      for (const [id, s] of steps) if (prev.steps.has(id)) d += Math.max(0, s - prev.steps.get(id));
      const r = d / ((now - prev.t) / 1000);
      rate = rate === null ? r : 0.7 * rate + 0.3 * r; // smoothed over a few polls
    }
    prev = { t: now, steps };
    const by = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const j of jobs) by[j.state]++;
    const slots = workers.reduce((a, w) => a + w.slots, 0);
    const free = workers.reduce((a, w) => a + w.free, 0);
    if (rate !== null)
      chart.add(Math.round((now - t0) / 1000), { 'steps/s': rate, 'busy slots': slots - free, 'running jobs': by.running + by.recovering });
    const gpus = workers.reduce((a, w) => a + (w.gpus?.length ?? 0), 0);
    const gpusFree = workers.reduce((a, w) => a + (w.gpus_free?.length ?? 0), 0);
    const fig = (label, value, key) => el('div.figure', { dataset: { figure: key } }, el('div.value', value), el('div.label', label));
    figures.replaceChildren(
      fig('workers', workers.length, 'workers'),
      fig('slots free', `${free}/${slots}`, 'slots'),
      ...(gpus ? [fig('GPUs free', `${gpusFree}/${gpus}`, 'gpus')] : []),
      fig('steps/s (running jobs)', rate === null ? '…' : rate.toFixed(1), 'steps'),
      el(
        'div.figure.states',
        el('div.value', ...STATES.filter((s) => by[s]).map((s) => el('span', badge(s), ` ${by[s]} `))),
        el('div.label', 'jobs by state'),
      ),
    );
    tbody.replaceChildren(
      ...(workers.length
        ? workers.map((w) =>
            el(
              'tr',
              { dataset: { node: w.nodeId } },
              el('td', w.nodeId),
              el('td', w.host),
              el('td', w.backend),
              el('td', w.device),
              el('td.num', `${w.slots - w.free}/${w.slots}`),
              el('td.gpus', ...(w.gpus?.length ? w.gpus.map((g) => gpuLine(w, g)) : ['–'])),
              el('td', w.actors.map((a) => `${a.jobId}#${a.rank}`).join(', ') || '–'),
              el('td', { class: w.alive_ms_ago > 2000 ? 'late' : '' }, `${(w.alive_ms_ago / 1000).toFixed(1)} s ago`),
              el('td', { title: w.started_at }, age(w.started_at)),
              el('td', w.draining ? el('span.badge.s-recovering', 'draining') : el('span.badge.s-running', 'ready')),
            ),
          )
        : [el('tr', el('td.muted', { colspan: 10 }, 'no live workers (the autoscaler starts some for pending jobs, if configured)'))]),
    );
  };
  await poll();
  const t = setInterval(poll, 1000);
  signal.addEventListener('abort', () => clearInterval(t));
}

const gib = (mib) => (mib / 1024).toFixed(1);

/** One GPU of a worker: index, model, memory used/total, utilisation, holder. */
function gpuLine(w, g) {
  const s = (w.gpu_stats ?? []).find((x) => x.index === g.index);
  const holder = w.actors.find((a) => (a.gpus ?? []).includes(g.index));
  const free = (w.gpus_free ?? []).includes(g.index);
  const mem = `${s ? gib(s.memory_used_mib) : '-'}/${gib(g.memory_total_mib)} GiB`;
  const util = s ? `${Math.round(s.utilization_pct)}%` : '-';
  const who = holder ? `${holder.jobId}#${holder.rank}` : free ? 'free' : 'placed';
  return el('div.gpu', { dataset: { gpu: String(g.index) }, title: g.uuid ?? '' }, `${g.index}: ${g.model} · ${mem} · ${util} · ${who}`);
}
