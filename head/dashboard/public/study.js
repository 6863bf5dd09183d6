// Study page: the study's facts and Cancel, the fitness-over-trials curve (fitness-curve.js),
// the trials table (each trial links to its job page; a click on a column header sorts by it,
// fitness best first; a trial without a fitness sorts last), and the study's artifacts
// (evolve.csv, hyp_evolve.yaml, evolve.svg). The record is polled every 2 s.
import { api, download } from './api.js';
import { fitnessCurve } from './fitness-curve.js';
import { el, age, badge, fmt } from './util.js';

const LIVE = ['running'];

export async function renderStudy(root, id, signal) {
  const path = `/v1/studies/${encodeURIComponent(id)}`;
  let st = await api(path, { signal });
  const keys = Object.keys(st.trials[0]?.hyp ?? (st.spec.space === 'yolov5' ? {} : st.spec.space));
  const head = el('section.card.study-head');
  const curve = el('section.card', el('h2', 'Fitness over trials'), el('div.curve'));
  // sort: [column, direction]; fitness descends first (best on top), the others ascend
  let sort = ['n', 1];
  const cols = [
    ['n', 'trial'],
    ['job', 'job'],
    ['state', 'state'],
    ['fitness', 'fitness'],
    ...keys.map((k) => [`hyp.${k}`, k]),
    ['rungs', `ASHA rungs (${st.spec.base.trainer.kind === 'yolov5' ? 'epochs' : 'steps'}: fitness)`],
    ['message', 'message'],
  ];
  const sortable = new Set(['n', 'state', 'fitness', ...keys.map((k) => `hyp.${k}`)]);
  const ths = cols.map(([key, label]) =>
    sortable.has(key)
      ? el(
          'th.sortable',
          {
            dataset: { sort: key },
            onclick: () => {
              sort = sort[0] === key ? [key, -sort[1]] : [key, key === 'fitness' ? -1 : 1];
              drawTable();
            },
          },
          label,
        )
      : el('th', label),
  );
  const tbody = el('tbody');
  const trials = el('section.card', el('h2', 'Trials'), el('table.trials', el('thead', el('tr', ...ths)), tbody));
  const artifacts = el(
    'section.card',
    el('h2', 'Artifacts'),
    el('ul.artifacts', el('li.muted', 'none yet: they come with the first fitness')),
  );
  root.append(head, curve, trials, artifacts);

  const value = (t, key) =>
    key === 'fitness'
      ? t.fitness
      : key === 'state'
        ? t.state
        : key === 'n'
          ? t.n
          : key.startsWith('hyp.')
            ? t.hyp[key.slice(4)]
            : undefined;
  const drawTable = () => {
    const [key, dir] = sort;
    const rows = [...st.trials].sort((a, b) => {
      const va = value(a, key);
      const vb = value(b, key);
      if (va === null || va === undefined) return vb === null || vb === undefined ? a.n - b.n : 1;
      if (vb === null || vb === undefined) return -1;
      const c = typeof va === 'string' ? va.localeCompare(vb) : va - vb;
      return c ? c * dir : a.n - b.n;
    });
    for (const th of ths) {
      const on = th.dataset.sort === key;
      if (on) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    tbody.replaceChildren(
      ...(rows.length ? rows.map((t) => trialRow(t, keys, st.best)) : [el('tr', el('td.muted', { colspan: cols.length }, 'no trial yet'))]),
    );
  };

  const drawHead = () => {
    const s = st.spec;
    const done = st.trials.filter((t) => t.fitness !== null).length;
    const best = st.best === undefined ? undefined : st.trials[st.best];
    const actions = el('div.actions');
    if (LIVE.includes(st.state))
      actions.append(
        el(
          'button.danger',
          {
            name: 'cancel',
            onclick: async (ev) => {
              ev.target.disabled = true;
              try {
                st = await api(`${path}/cancel`, { method: 'POST' });
                draw();
              } catch (e) {
                alert(e.message);
                ev.target.disabled = false;
              }
            },
          },
          'Cancel study',
        ),
      );
    const t = s.base.trainer;
    head.replaceChildren(
      el('div.bar', el('h2', s.name ? `${s.name} ` : '', el('code', st.id)), badge(st.state), actions),
      el(
        'dl.facts',
        el('dt', 'method'),
        el('dd', `${s.method}${s.asha ? ` + ASHA (grace ${s.asha.grace}, rf ${s.asha.reduction_factor})` : ''} · seed ${s.seed}`),
        el('dt', 'trials'),
        el('dd', { dataset: { fact: 'trials' } }, `${done} scored of ${st.trials.length} started / ${s.trials} · ${s.concurrency} at once`),
        el('dt', 'best'),
        el(
          'dd',
          { dataset: { fact: 'best' } },
          best ? [el('a', { href: `#/job/${best.job_id}` }, `trial ${best.n}`), ` fitness ${fmt(best.fitness, 5)}`] : '–',
        ),
        el('dt', 'slot-hours'),
        el(
          'dd',
          { dataset: { fact: 'slot-hours' } },
          `${fmt(st.slot_hours ?? 0, 3)}${s.budget ? ` of a budget of ${s.budget.slot_hours}` : ''}`,
        ),
        el('dt', 'base'),
        el('dd', t.kind === 'yolov5' ? `yolov5 ${t.cfg} · ${t.data} · img ${t.img} · ${t.epochs} epochs` : `logreg · ${t.steps} steps`),
        el('dt', 'space'),
        el(
          'dd',
          s.space === 'yolov5'
            ? 'yolov5 (every key)'
            : Object.entries(s.space)
                .map(([k, [lo, hi]]) => `${k} [${lo}, ${hi}]`)
                .join(' · '),
        ),
        el('dt', 'age'),
        el('dd', { title: st.created_at }, age(st.created_at)),
        ...(st.message ? [el('dt', 'message'), el('dd.msg', st.message)] : []),
      ),
    );
  };

  const artifactsSeen = new Set();
  const loadArtifacts = async () => {
    const { artifacts: list } = await api(`${path}/artifacts`, { signal });
    const key = list.map((a) => `${a.name}:${a.bytes}`).join('|');
    if (!list.length || artifactsSeen.has(key)) return;
    artifactsSeen.add(key);
    artifacts.querySelector('ul').replaceChildren(
      ...list.map((a) =>
        el(
          'li',
          { dataset: { artifact: a.name } },
          el(
            'a',
            {
              href: `${path}/artifacts/${encodeURIComponent(a.name)}`,
              onclick: (ev) => {
                ev.preventDefault();
                download(ev.currentTarget.getAttribute('href'), a.name).catch((e) => alert(e.message));
              },
            },
            a.name,
          ),
          ` ${fmt(a.bytes / 1e3, 3)} kB`,
        ),
      ),
    );
  };

  let drawnAt = '';
  const draw = () => {
    if (st.updated_at === drawnAt) return;
    drawnAt = st.updated_at;
    drawHead();
    curve.querySelector('.curve').replaceChildren(fitnessCurve(st.trials, st.spec.trials, st.best));
    drawTable();
    void loadArtifacts().catch(() => undefined);
  };
  draw();
  const poll = async () => {
    try {
      st = await api(path, { signal });
      draw();
    } catch (e) {
      if (!signal.aborted) head.querySelector('.actions')?.replaceChildren(el('span.error', `could not refresh: ${e.message}`));
    }
  };
  const timer = setInterval(poll, 2000);
  signal.addEventListener('abort', () => clearInterval(timer));
}

function trialRow(t, keys, best) {
  const rungs = t.rungs
    ? Object.entries(t.rungs)
        .map(([e, f]) => `${e}: ${fmt(f, 4)}`)
        .join(' · ')
    : '';
  return el(
    'tr',
    { dataset: { trial: t.n, state: t.state, fitness: t.fitness ?? '' }, class: t.n === best ? 'best' : undefined },
    el('td.num', t.n),
    el('td', el('a', { href: `#/job/${t.job_id}` }, t.job_id)),
    el('td', badge(t.state)),
    el('td.num', { title: t.fitness === null ? '' : String(t.fitness) }, t.fitness === null ? '–' : fmt(t.fitness, 5)),
    ...keys.map((k) => el('td.num', fmt(t.hyp[k], 5))),
    el('td', rungs),
    el('td.msg', { title: t.message ?? '' }, t.message ?? ''),
  );
}
