import t from 'tap';
import { headFixture } from './helpers/head.ts';

t.test('malformed bodies get 400 FLO_VALIDATION naming the field', async (t) => {
  const { head } = await headFixture(t);
  const post = (payload: unknown) => head.app.inject({ method: 'POST', url: '/v1/jobs', payload: payload as object });
  const cases: Array<[string, unknown, string]> = [
    ['negative workers', { workers: -1, trainer: { kind: 'logreg' } }, 'body.workers'],
    ['workers as a string', { workers: 'two', trainer: { kind: 'logreg' } }, 'body.workers'],
    ['no trainer', { workers: 1 }, 'body.trainer'],
    ['unknown trainer kind', { trainer: { kind: 'svm' } }, 'body.trainer.kind'],
    ['bad nested field', { trainer: { kind: 'logreg', steps: 0 } }, 'body.trainer.steps'],
    ['min_workers above workers', { workers: 2, min_workers: 3, trainer: { kind: 'logreg' } }, 'body.min_workers'],
  ];
  for (const [what, body, field] of cases) {
    const r = await post(body);
    t.equal(r.statusCode, 400, `${what}: 400`);
    const e = r.json().error;
    t.equal(e.code, 'FLO_VALIDATION', `${what}: code`);
    t.match(e.message, field, `${what}: message names ${field}`);
    t.ok(
      e.details.some((d: { field: string }) => d.field === field),
      `${what}: details name ${field}`,
    );
  }
  const extra = await post({ trainer: { kind: 'logreg' }, colour: 'red' });
  t.equal(extra.statusCode, 400, 'unknown keys are refused');
  t.match(extra.json().error.message, 'colour');

  const bad = await head.app.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: { 'content-type': 'application/json' },
    payload: '{"workers": ',
  });
  t.equal(bad.statusCode, 400, 'broken JSON');
  t.equal(bad.json().error.code, 'FLO_VALIDATION');
  t.match(bad.json().error.message, 'body');

  const ok = await post({ trainer: { kind: 'logreg' } });
  t.equal(ok.statusCode, 201);
  const id = ok.json().id;
  const p = await head.app.inject({ method: 'PATCH', url: `/v1/jobs/${id}`, payload: { workers: 0 } });
  t.equal(p.statusCode, 400);
  t.match(p.json().error.message, 'body.workers');
  const badId = await head.app.inject({ method: 'GET', url: '/v1/jobs/no.such' });
  t.equal(badId.statusCode, 400);
  t.match(badId.json().error.message, 'params.id');
  const missing = await head.app.inject({ method: 'GET', url: '/v1/jobs/nosuch' });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().error.code, 'FLO_NOT_FOUND');
  const ev = await head.app.inject({ method: 'GET', url: `/v1/jobs/${id}/events?from=zero` });
  t.equal(ev.statusCode, 400);
  t.match(ev.json().error.message, 'querystring.from');
});

t.test('system routes: OpenAPI, health, metrics, workers', async (t) => {
  const { head, agent } = await headFixture(t);
  await agent('n1', 2);
  const api = (await head.app.inject({ url: '/openapi.json' })).json();
  t.equal(api.openapi.slice(0, 2), '3.');
  t.ok(api.paths['/v1/jobs'].post.requestBody, 'POST /v1/jobs documents its body');
  t.ok(api.paths['/v1/jobs/{id}'].patch, 'PATCH documented');
  t.ok(api.paths['/v1/jobs/{id}/events'], 'events documented');
  const h = await head.app.inject({ url: '/healthz' });
  t.equal(h.statusCode, 200);
  t.equal(h.json().nats, 'connected');
  const w = (await head.app.inject({ url: '/v1/workers' })).json();
  t.equal(w.workers.length, 1);
  t.equal(w.workers[0].nodeId, 'n1');
  t.equal(w.workers[0].free, 2);
  const m = await head.app.inject({ url: '/metrics' });
  t.match(m.headers['content-type'], 'text/plain');
  t.match(m.body, /flotilla_workers 1/);
  t.match(m.body, /flotilla_slots 2/);
  t.match(m.body, /flotilla_jobs\{state="pending"\} 0/);
});
