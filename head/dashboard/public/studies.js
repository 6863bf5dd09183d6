// Studies page: every hyperparameter study (GET /v1/studies, polled every 2 s) with its method,
// progress (trials with a result / trials), the best fitness and the trial that holds it.
import { api } from './api.js';
import { el, age, badge, fmt } from './util.js';

export async function renderStudies(root, signal) {
  const counts = el('span.counts');
  const tbody = el('tbody');
  root.append(
    el(
      'section.card',
      el('div.bar', el('h2', 'Studies'), counts),
      el(
        'table.studies',
        el(
          'thead',
          el(
            'tr',
            ...['study', 'name', 'state', 'method', 'trials', 'running', 'best fitness', 'best trial', 'age'].map((h) => el('th', h)),
          ),
        ),
        tbody,
      ),
      el('p.muted', 'Start one with ', el('code', 'flotilla tune STUDY.yaml'), ' or POST /v1/studies (docs/tune.md).'),
    ),
  );
  const poll = async () => {
    try {
      const { studies } = await api('/v1/studies', { signal });
      counts.textContent = studies.length ? `${studies.length} ${studies.length === 1 ? 'study' : 'studies'}` : '';
      tbody.replaceChildren(...(studies.length ? studies.map(row) : [el('tr', el('td.muted', { colspan: 9 }, 'no studies yet'))]));
    } catch (e) {
      if (!signal.aborted) counts.textContent = `could not list studies: ${e.message}`;
    }
  };
  await poll();
  const t = setInterval(poll, 2000);
  signal.addEventListener('abort', () => clearInterval(t));
}

function row(s) {
  const done = s.trials.filter((t) => t.fitness !== null).length;
  const running = s.trials.filter((t) => t.state === 'running' || t.state === 'pending').length;
  const best = s.best === undefined ? undefined : s.trials[s.best];
  return el(
    'tr',
    { dataset: { study: s.id, state: s.state } },
    el('td', el('a', { href: `#/study/${s.id}` }, s.id)),
    el('td', s.spec.name ?? ''),
    el('td', badge(s.state)),
    el('td', `${s.spec.method}${s.spec.asha ? ' + ASHA' : ''}`),
    el('td.num', `${done}/${s.spec.trials}`),
    el('td.num', running),
    el('td.num', best ? fmt(best.fitness, 5) : '–'),
    el('td', best ? el('a', { href: `#/job/${best.job_id}` }, `trial ${best.n}`) : '–'),
    el('td.num', { title: s.created_at }, age(s.created_at)),
  );
}
