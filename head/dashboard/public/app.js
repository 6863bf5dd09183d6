// Hash router: #/jobs (default), #/job/ID, #/studies, #/study/ID, #/workers. Each page is render(root, params, signal)
// and stops its polling and streams when the signal aborts (the route changed).
import { api } from './api.js';
import { renderJobs } from './jobs.js';
import { renderJob } from './job.js';
import { renderWorkers } from './workers.js';
import { renderStudies } from './studies.js';
import { renderStudy } from './study.js';
import { el } from './util.js';

const routes = [
  [/^#\/job\/([A-Za-z0-9_-]+)$/, 'jobs', (root, m, signal) => renderJob(root, m[1], signal)],
  [/^#\/study\/([A-Za-z0-9_-]+)$/, 'studies', (root, m, signal) => renderStudy(root, m[1], signal)],
  [/^#\/studies$/, 'studies', (root, _m, signal) => renderStudies(root, signal)],
  [/^#\/workers$/, 'workers', (root, _m, signal) => renderWorkers(root, signal)],
  [/^(#\/jobs.*)?$/, 'jobs', (root, _m, signal) => renderJobs(root, signal)],
];

let current = null;
function route() {
  current?.abort();
  current = new AbortController();
  const root = document.getElementById('view');
  root.replaceChildren();
  const hash = location.hash || '#/jobs';
  for (const [re, nav, render] of routes) {
    const m = re.exec(hash.split('?')[0]);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
    Promise.resolve(render(root, m, current.signal)).catch((e) => {
      if (!current.signal.aborted) root.append(el('p.error', `could not load this page: ${e.message}`));
    });
    return;
  }
  root.append(el('p.error', `no page at ${hash}`));
}

async function health() {
  const h = document.getElementById('health');
  try {
    const r = await fetch('/healthz', { credentials: 'same-origin' });
    const j = await r.json().catch(() => ({}));
    h.textContent = r.ok ? `head ${j.head ?? ''} · up ${j.uptime_s ?? '?'}s` : `head unhealthy: ${j.nats ?? r.status}`;
    h.className = `health ${r.ok ? 'ok' : 'bad'}`;
  } catch {
    h.textContent = 'head unreachable';
    h.className = 'health bad';
  }
}

window.addEventListener('hashchange', route);
route();
health();
setInterval(health, 5000);
// Expose the API for the console and for browser tests that drive the page.
window.flotilla = { api };
