// Job page: header with actions, live loss and validation curves from the event stream, a
// timeline of generations, restarts, faults and checkpoints, per-rank status, the log tail
// (following), the run's pictures (pictures.js) and the artifacts. The record and the workers are polled every second; the
// curves, timeline and logs come from the SSE stream.
import { api, download, followEvents } from './api.js';
import { LineChart } from './chart.js';
import { Pictures } from './pictures.js';
import { el, age, badge, fmt, progress, TERMINAL } from './util.js';

const LOSS_KEYS = ['box', 'obj', 'cls'];
const EVAL_KEYS = [
  ['precision', 'P'],
  ['recall', 'R'],
  ['map50', 'mAP@0.5'],
  ['map', 'mAP@0.5:0.95'],
];
const LOG_LINES = 300;

export async function renderJob(root, id, signal) {
  let job = await api(`/v1/jobs/${encodeURIComponent(id)}`, { signal });
  const faultPath = await faultRoute();
  const head = el('section.card.job-head');
  const charts = el('section.charts');
  const timeline = el('section.card', el('h2', 'Timeline'), el('div.timeline-strip'), el('ol.timeline'));
  const ranks = el(
    'section.card',
    el('h2', 'Ranks'),
    el(
      'table.ranks',
      el('thead', el('tr', ...['rank', 'node', 'backend', 'device', 'actor', 'last heartbeat', 'step'].map((h) => el('th', h)))),
      el('tbody'),
    ),
  );
  const logs = el(
    'section.card',
    el('div.bar', el('h2', 'Log'), el('label.inline', el('input', { type: 'checkbox', name: 'follow', checked: true }), ' follow')),
    el('pre.log', { 'aria-live': 'polite' }),
  );
  const artifacts = el('section.card', el('h2', 'Artifacts'), el('ul.artifacts', el('li.muted', 'none yet')));
  const trainerKind = job.spec.trainer.kind;
  const pictures = trainerKind === 'yolov5' ? new Pictures(id, signal) : null;
  root.append(head, charts, ...(pictures ? [pictures.root] : []), timeline, ranks, logs, artifacts);

  const loss = new LineChart(charts, {
    id: 'loss',
    title: trainerKind === 'yolov5' ? 'Training loss (box, obj, cls)' : 'Training loss',
    x: 'step',
    series: trainerKind === 'yolov5' ? LOSS_KEYS : ['loss'],
    empty: 'waiting for the first step…',
  });
  const evalChart = new LineChart(charts, {
    id: 'eval',
    title: 'Validation per epoch (P, R, mAP)',
    x: 'epoch',
    series: EVAL_KEYS.map(([, l]) => l),
    empty: trainerKind === 'yolov5' ? 'no validation yet (after each epoch)' : 'this trainer does not validate',
  });

  const items = []; // timeline entries {ts, kind, text, generation}
  const lastStepByRank = new Map();
  let workers = [];

  let drawnAt = '';
  const drawHead = () => {
    // the 1 s poll redraws only on a change, and keeps a worker count being typed
    const key = `${job.updated_at}|${job.state}|${job.step}`;
    if (key === drawnAt) return;
    drawnAt = key;
    const typed = head.querySelector('input[name=workers][data-dirty]')?.value;
    const actions = el('div.actions');
    const live = !TERMINAL.includes(job.state);
    if (live) {
      actions.append(
        el(
          'button.danger',
          {
            name: 'cancel',
            onclick: async (ev) => {
              ev.target.disabled = true;
              try {
                job = await api(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
                drawnAt = '';
                drawHead();
              } catch (e) {
                alert(e.message);
                ev.target.disabled = false;
              }
            },
          },
          'Cancel',
        ),
      );
      const n = el('input', {
        type: 'number',
        name: 'workers',
        min: 1,
        value: typed ?? job.spec.workers,
        'aria-label': 'workers',
        dataset: typed ? { dirty: '1' } : undefined,
        oninput: (ev) => {
          ev.target.dataset.dirty = '1';
        },
      });
      actions.append(
        el(
          'span.scale',
          n,
          el(
            'button',
            {
              name: 'scale',
              onclick: async () => {
                try {
                  job = await api(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'PATCH', body: { workers: Number(n.value) } });
                  delete n.dataset.dirty;
                  drawnAt = '';
                  drawHead();
                } catch (e) {
                  alert(e.message);
                }
              },
            },
            'Scale',
          ),
        ),
      );
      if (faultPath)
        actions.append(
          el(
            'button',
            {
              name: 'fault',
              title: `POST ${faultPath}`,
              onclick: async () => {
                const body = prompt('Fault to inject (JSON, as the API takes it)', '{"kind": "kill-actor", "target": {"rank": 0}}');
                if (!body) return;
                try {
                  await api(faultPath.replace('{id}', encodeURIComponent(id)), { method: 'POST', body: JSON.parse(body) });
                } catch (e) {
                  alert(e.message);
                }
              },
            },
            'Inject fault',
          ),
        );
    }
    const t = job.spec.trainer;
    head.replaceChildren(
      el('div.bar', el('h2', job.spec.name ? `${job.spec.name} ` : '', el('code', job.id)), badge(job.state), actions),
      el(
        'dl.facts',
        el('dt', 'progress'),
        el('dd', { dataset: { fact: 'progress' } }, progress(job)),
        el('dt', 'trainer'),
        el(
          'dd',
          t.kind === 'yolov5'
            ? `yolov5 ${t.cfg} · ${t.data} · img ${t.img} · batch ${t.batch}`
            : `logreg · batch ${t.batch} · ${t.features} features`,
        ),
        el('dt', 'ranks'),
        el('dd', `${job.placement.length}/${job.spec.workers}${job.spec.min_workers ? ` (min ${job.spec.min_workers})` : ''}`),
        el('dt', 'generation'),
        el('dd', job.generation),
        el('dt', 'restarts'),
        el('dd', `${job.restarts}/${job.spec.max_restarts}`),
        el('dt', 'checkpoint'),
        el('dd', job.checkpoint_step ?? '–'),
        el('dt', 'age'),
        el('dd', { title: job.created_at }, age(job.created_at)),
        ...(job.study
          ? [el('dt', 'study'), el('dd', el('a', { href: `#/study/${job.study}`, dataset: { fact: 'study' } }, job.study))]
          : []),
        ...(job.message ? [el('dt', 'message'), el('dd.msg', job.message)] : []),
      ),
    );
  };

  const drawRanks = () => {
    const byNode = new Map(workers.map((w) => [w.nodeId, w]));
    const rows = job.placement.map((p) => {
      const w = byNode.get(p.nodeId);
      const running = w?.actors?.some((a) => a.actorId === p.actorId);
      return el(
        'tr',
        { dataset: { rank: p.rank } },
        el('td.num', p.rank),
        el('td', p.nodeId),
        el('td', w?.backend ?? '–'),
        el('td', w?.device ?? '–'),
        el('td', { title: p.actorId }, running ? 'running' : w ? 'not in heartbeat' : 'node gone'),
        el('td', w ? `${(w.alive_ms_ago / 1000).toFixed(1)} s ago` : '–'),
        el('td.num', lastStepByRank.get(p.rank) ?? (p.rank === 0 ? job.step : '–')),
      );
    });
    ranks
      .querySelector('tbody')
      .replaceChildren(
        ...(rows.length
          ? rows
          : [el('tr', el('td.muted', { colspan: 7 }, TERMINAL.includes(job.state) ? 'the job has ended' : 'not placed yet'))]),
      );
  };

  const drawTimeline = () => {
    const list = timeline.querySelector('ol');
    list.replaceChildren(
      ...items
        .slice(-60)
        .reverse()
        .map((i) => el(`li.t-${i.kind}`, el('time', new Date(i.ts).toLocaleTimeString()), ` g${i.generation} `, i.text)),
    );
    timeline.querySelector('.timeline-strip').replaceChildren(strip(items, job));
  };

  const logBox = logs.querySelector('pre');
  const addLog = (text, level) => {
    logBox.append(el(`span.l-${level}`, `${text}\n`));
    while (logBox.childNodes.length > LOG_LINES) logBox.firstChild.remove();
    if (logs.querySelector('[name=follow]').checked) logBox.scrollTop = logBox.scrollHeight;
  };

  let redraw = 0;
  const soon = () => {
    if (!redraw)
      redraw = requestAnimationFrame(() => {
        redraw = 0;
        drawTimeline();
      });
  };
  const onEvent = (seq, e) => {
    const time = new Date(e.ts).toLocaleTimeString();
    switch (e.type) {
      case 'metric': {
        lastStepByRank.set(e.rank, e.step);
        if (e.rank !== 0) break;
        loss.add(e.step, e.values);
        if (e.values.map50 !== undefined) evalChart.add(e.epoch ?? 0, Object.fromEntries(EVAL_KEYS.map(([k, l]) => [l, e.values[k]])));
        break;
      }
      case 'state':
        items.push({
          ts: e.ts,
          kind: e.state === 'recovering' ? 'fault' : 'state',
          band: e.state,
          generation: e.generation,
          text: `${e.state}${e.message ? `: ${e.message}` : ''}`,
        });
        addLog(`${time} g${e.generation} state ${e.state}${e.message ? ` (${e.message})` : ''}`, 'state');
        soon();
        break;
      case 'checkpoint':
        items.push({ ts: e.ts, kind: 'checkpoint', generation: e.generation, text: `checkpoint at step ${e.step}` });
        soon();
        break;
      case 'log':
        if (e.level === 'error' || e.level === 'warn') {
          items.push({
            ts: e.ts,
            kind: e.level === 'error' ? 'fault' : 'warn',
            generation: e.generation,
            text: `${e.rank !== undefined ? `rank ${e.rank}: ` : ''}${e.msg}`,
          });
          soon();
        }
        addLog(`${time} g${e.generation} ${e.level}${e.rank !== undefined ? ` rank${e.rank}` : ''}: ${e.msg}`, e.level);
        break;
      case 'artifact':
        items.push({ ts: e.ts, kind: 'artifact', generation: e.generation, text: `artifact ${e.name} (${e.bytes} bytes)` });
        pictures?.uploaded(e.name);
        artifactsSoon();
        soon();
        break;
    }
  };

  // a burst of uploads (five pictures after a validation, a replay of the stream) lists them once
  let listing = null,
    again = false;
  const artifactsSoon = () => {
    if (listing) {
      again = true;
      return;
    }
    listing = new Promise((r) => setTimeout(r, 250))
      .then(loadArtifacts)
      .catch(() => undefined)
      .finally(() => {
        listing = null;
        if (again) {
          again = false;
          artifactsSoon();
        }
      });
  };
  const loadArtifacts = async () => {
    const { artifacts: list } = await api(`/v1/jobs/${encodeURIComponent(id)}/artifacts`, { signal });
    await pictures?.update(list);
    if (!list.length) return;
    artifacts.querySelector('ul').replaceChildren(
      ...list.map((a) =>
        el(
          'li',
          el(
            'a',
            {
              href: `/v1/jobs/${encodeURIComponent(id)}/artifacts/${encodeURIComponent(a.name)}`,
              onclick: (ev) => {
                ev.preventDefault();
                download(ev.currentTarget.getAttribute('href'), a.name).catch((e) => alert(e.message));
              },
            },
            a.name,
          ),
          ` ${fmt(a.bytes / 1e6, 3)} MB`,
        ),
      ),
    );
  };

  drawHead();
  void followEvents(id, onEvent, signal).catch((e) => addLog(`events: ${e.message}`, 'error'));
  artifactsSoon();
  const poll = async () => {
    try {
      [job, { workers }] = await Promise.all([api(`/v1/jobs/${encodeURIComponent(id)}`, { signal }), api('/v1/workers', { signal })]);
      drawHead();
      drawRanks();
      soon();
    } catch (e) {
      if (!signal.aborted) head.dataset.error = e.message;
    }
  };
  await poll();
  const t = setInterval(poll, 1000);
  signal.addEventListener('abort', () => {
    clearInterval(t);
    if (redraw) cancelAnimationFrame(redraw);
  });
}

/** The fault-injection route, when this head has one (issue 11): the button shows only then. */
async function faultRoute() {
  try {
    const doc = await api('/openapi.json');
    return Object.keys(doc.paths ?? {}).find((p) => /^\/v1\/jobs\/\{id\}\/faults?$/.test(p) && doc.paths[p].post) ?? null;
  } catch {
    return null;
  }
}

/** One SVG strip: a band per generation (coloured by its state), ticks for checkpoints, marks for faults. */
function strip(items, job) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 1000 40');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.classList.add('strip');
  if (!items.length) return svg;
  const t0 = items[0].ts;
  const t1 = TERMINAL.includes(job.state) ? Math.max(items[items.length - 1].ts, t0 + 1) : Math.max(Date.now(), t0 + 1);
  const x = (ts) => ((ts - t0) / (t1 - t0)) * 1000;
  const states = items.filter((i) => i.band);
  states.forEach((s, k) => {
    const end = k + 1 < states.length ? states[k + 1].ts : t1;
    const r = document.createElementNS(NS, 'rect');
    Object.entries({ x: x(s.ts), y: 8, width: Math.max(1, x(end) - x(s.ts)), height: 18 }).forEach(([a, v]) => r.setAttribute(a, v));
    r.setAttribute('class', `g-${s.band}`);
    const title = document.createElementNS(NS, 'title');
    title.textContent = `generation ${s.generation}: ${s.text}`;
    r.append(title);
    svg.append(r);
  });
  for (const i of items) {
    if (i.kind !== 'checkpoint' && i.kind !== 'fault' && i.kind !== 'warn') continue;
    const l = document.createElementNS(NS, 'line');
    Object.entries({ x1: x(i.ts), x2: x(i.ts), y1: i.kind === 'checkpoint' ? 26 : 0, y2: i.kind === 'checkpoint' ? 40 : 8 }).forEach(
      ([a, v]) => l.setAttribute(a, v),
    );
    l.setAttribute('class', `m-${i.kind}`);
    svg.append(l);
  }
  return svg;
}
