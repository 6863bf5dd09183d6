// Jobs page: filters, a live table (polled every second) and the submit form. The form is
// validated by the head with the same zod schema as every other client (JobSpec): a 400's
// field errors (body.trainer.steps: …) are shown next to the field they name.
import { api, ApiError } from './api.js';
import { el, age, badge, progress } from './util.js';

const STATES = ['pending', 'running', 'recovering', 'succeeded', 'failed', 'cancelled'];

export async function renderJobs(root, signal) {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const stateSel = el(
    'select',
    { name: 'state', 'aria-label': 'state filter' },
    el('option', { value: '' }, 'all states'),
    ...STATES.map((s) => el('option', { value: s }, s)),
  );
  stateSel.value = params.get('state') ?? '';
  const text = el('input', { type: 'search', name: 'q', placeholder: 'filter by id or name', value: params.get('q') ?? '' });
  const counts = el('span.counts');
  const tbody = el('tbody');
  const table = el(
    'table.jobs',
    el(
      'thead',
      el('tr', ...['job', 'name', 'state', 'trainer', 'ranks', 'progress', 'restarts', 'gen', 'age', 'message'].map((h) => el('th', h))),
    ),
    tbody,
  );
  root.append(el('section.card', el('div.bar', el('h2', 'Jobs'), stateSel, text, counts), table), submitForm());
  let jobs = [];
  const draw = () => {
    const q = text.value.trim().toLowerCase();
    const st = stateSel.value;
    const shown = jobs.filter(
      (j) => (!st || j.state === st) && (!q || j.id.toLowerCase().includes(q) || (j.spec.name ?? '').toLowerCase().includes(q)),
    );
    const by = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const j of jobs) by[j.state]++;
    counts.textContent =
      STATES.filter((s) => by[s])
        .map((s) => `${by[s]} ${s}`)
        .join(' · ') || 'no jobs yet';
    tbody.replaceChildren(
      ...(shown.length
        ? shown.map(row)
        : [el('tr', el('td.muted', { colspan: 10 }, jobs.length ? 'no job matches the filter' : 'no jobs yet: submit one below'))]),
    );
  };
  const keep = () => {
    const p = new URLSearchParams();
    if (stateSel.value) p.set('state', stateSel.value);
    if (text.value.trim()) p.set('q', text.value.trim());
    history.replaceState(null, '', `#/jobs${p.size ? `?${p}` : ''}`);
    draw();
  };
  stateSel.addEventListener('change', keep);
  text.addEventListener('input', keep);
  const poll = async () => {
    try {
      jobs = (await api('/v1/jobs?limit=500', { signal })).jobs;
      draw();
    } catch (e) {
      if (!signal.aborted) counts.textContent = `could not list jobs: ${e.message}`;
    }
  };
  await poll();
  const t = setInterval(poll, 1000);
  signal.addEventListener('abort', () => clearInterval(t));
}

function row(j) {
  const t = j.spec.trainer;
  const ranks = j.placement.length ? `${j.placement.length}/${j.spec.workers}` : `0/${j.spec.workers}`;
  return el(
    'tr',
    { dataset: { job: j.id, state: j.state } },
    el('td', el('a', { href: `#/job/${j.id}` }, j.id)),
    el('td', j.spec.name ?? ''),
    el('td', badge(j.state)),
    el('td', t.kind),
    el('td.num', ranks),
    el('td', progress(j)),
    el('td.num', j.restarts),
    el('td.num', j.generation),
    el('td.num', { title: j.created_at }, age(j.created_at)),
    el('td.msg', { title: j.message ?? '' }, j.message ?? ''),
  );
}

/** Builds a JobSpec from the form; fields left empty are left out so the schema's defaults apply. */
function specFrom(f) {
  const num = (n) => (f.elements[n].value === '' ? undefined : Number(f.elements[n].value));
  const kind = f.elements.kind.value;
  const trainer =
    kind === 'logreg'
      ? { kind, steps: num('steps'), batch: num('batch'), step_delay_ms: num('step_delay_ms') }
      : {
          kind,
          cfg: f.elements.cfg.value || undefined,
          data: f.elements.data.value || undefined,
          img: num('img'),
          epochs: num('epochs'),
          batch: num('batch'),
        };
  const spec = { name: f.elements.name.value || undefined, workers: num('workers'), trainer };
  const extra = f.elements.extra.value.trim();
  if (extra) Object.assign(spec, JSON.parse(extra));
  return JSON.parse(JSON.stringify(spec)); // drops the undefined fields
}

function submitForm() {
  const field = (label, name, attrs = {}) =>
    el('label', { dataset: { field: name } }, el('span', label), el('input', { name, ...attrs }), el('small.field-error'));
  const f = el(
    'form.submit',
    { novalidate: true },
    el(
      'div.grid',
      el(
        'label',
        { dataset: { field: 'trainer.kind' } },
        el('span', 'trainer'),
        el('select', { name: 'kind' }, el('option', { value: 'logreg' }, 'logreg'), el('option', { value: 'yolov5' }, 'yolov5')),
        el('small.field-error'),
      ),
      field('name', 'name', { placeholder: 'optional' }),
      field('workers', 'workers', { type: 'number', value: 1 }),
      field('batch', 'batch', { type: 'number', placeholder: 'default' }),
      field('steps (logreg)', 'steps', { type: 'number', value: 200, class: 'k-logreg' }),
      field('step delay ms (logreg)', 'step_delay_ms', { type: 'number', placeholder: '0', class: 'k-logreg' }),
      field('cfg (yolov5)', 'cfg', { placeholder: 'yolov5n.yaml', class: 'k-yolov5' }),
      field('data (yolov5)', 'data', { placeholder: 'synthetic', class: 'k-yolov5' }),
      field('img (yolov5)', 'img', { type: 'number', placeholder: '320', class: 'k-yolov5' }),
      field('epochs (yolov5)', 'epochs', { type: 'number', placeholder: '10', class: 'k-yolov5' }),
    ),
    el(
      'label.wide',
      { dataset: { field: 'extra' } },
      el('span', 'more JobSpec fields, as JSON (e.g. {"max_restarts": 5, "allreduce": {"fp16": true}})'),
      el('textarea', { name: 'extra', rows: 2 }),
      el('small.field-error'),
    ),
    el('div.bar', el('button', { type: 'submit' }, 'Submit job'), el('span.result')),
  );
  const sync = () => {
    for (const i of f.querySelectorAll('.k-logreg, .k-yolov5'))
      i.closest('label').hidden = !i.classList.contains(`k-${f.elements.kind.value}`);
  };
  f.elements.kind.addEventListener('change', sync);
  sync();
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const s of f.querySelectorAll('.field-error')) s.textContent = '';
    for (const l of f.querySelectorAll('label.invalid')) l.classList.remove('invalid');
    const out = f.querySelector('.result');
    out.className = 'result';
    let spec;
    try {
      spec = specFrom(f);
    } catch (e) {
      return showField(f, 'extra', `not JSON: ${e.message}`);
    }
    try {
      const job = await api('/v1/jobs', { method: 'POST', body: spec });
      out.replaceChildren('submitted ', el('a', { href: `#/job/${job.id}` }, job.id));
    } catch (e) {
      out.classList.add('error');
      out.textContent = e.message;
      if (e instanceof ApiError) for (const d of e.details) showField(f, d.field.replace(/^body\.?/, ''), d.message);
    }
  });
  return el('section.card', el('h2', 'Submit a job'), f);
}

/** Puts a server field error (trainer.steps, workers, …) next to its input, or next to the JSON box. */
function showField(f, field, message) {
  const name = field.replace(/^trainer\./, '');
  const label =
    f.querySelector(`[data-field="${CSS.escape(field)}"]`) ??
    f.querySelector(`[data-field="${CSS.escape(name)}"]:not([hidden])`) ??
    f.querySelector('[data-field="extra"]');
  label.classList.add('invalid');
  const s = label.querySelector('.field-error');
  s.textContent = s.textContent
    ? `${s.textContent}; ${field}: ${message}`
    : label.dataset.field === 'extra'
      ? `${field}: ${message}`
      : message;
}
