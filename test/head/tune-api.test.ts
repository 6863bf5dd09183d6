/** POST /v1/studies: field-precise 400s, roles and owners as for jobs, 404s, the study kept in KV. */
import t from 'tap';
import { Kvm } from '@nats-io/kv';
import { headFixture } from './helpers/head.ts';
import { subjects } from '../../shared/subjects.ts';

const base = { trainer: { kind: 'yolov5', img: 64, epochs: 1 } };

t.test('a bad study body is a 400 FLO_VALIDATION naming the field', async (t) => {
  const { head } = await headFixture(t);
  const post = (payload: unknown) => head.app.inject({ method: 'POST', url: '/v1/studies', payload: payload as object });
  const cases: Array<[string, unknown, string]> = [
    ['no base', { space: 'yolov5', trials: 2 }, 'body.base'],
    ['a bad base job', { base: { trainer: { kind: 'svm' } }, space: 'yolov5', trials: 2 }, 'body.base.trainer.kind'],
    ['an unknown hyperparameter', { base, space: { lr0: [0.001, 0.01], lr9: [0, 1] }, trials: 2 }, 'body.space.lr9'],
    ['min above max', { base, space: { lr0: [0.01, 0.001] }, trials: 2 }, 'body.space.lr0'],
    ["bounds outside train.py's", { base, space: { momentum: [0.1, 0.9] }, trials: 2 }, 'body.space.momentum'],
    ['a bound that is not a pair', { base, space: { lr0: [0.01] }, trials: 2 }, 'body.space'],
    ['an empty space', { base, space: {}, trials: 2 }, 'body.space'],
    ["'yolov5' on a logreg base", { base: { trainer: { kind: 'logreg' } }, space: 'yolov5', trials: 2 }, 'body.space'],
    ['no trials', { base, space: 'yolov5', trials: 0 }, 'body.trials'],
    ['too many trials', { base, space: 'yolov5', trials: 301 }, 'body.trials'],
    ['an unknown method', { base, space: 'yolov5', trials: 2, method: 'grid' }, 'body.method'],
    ['concurrency 0', { base, space: 'yolov5', trials: 2, concurrency: 0 }, 'body.concurrency'],
    [
      'a dataset outside the dataset root',
      { base: { trainer: { kind: 'yolov5', data: '/etc/passwd' } }, space: 'yolov5', trials: 2 },
      'body.base.trainer.data',
    ],
  ];
  for (const [what, body, field] of cases) {
    const r = await post(body);
    t.equal(r.statusCode, 400, `${what}: 400`);
    const e = r.json().error;
    t.equal(e.code, 'FLO_VALIDATION', `${what}: code`);
    t.ok(
      e.details.some((d: { field: string }) => d.field === field),
      `${what}: details name ${field} (${e.message})`,
    );
  }
  const asha: Array<[string, unknown, string]> = [
    [
      "a logreg trial's first rung at its last step",
      { base: { trainer: { kind: 'logreg', steps: 5 } }, space: { lr: [0.1, 1] }, trials: 2, asha: { grace: 5 } },
      'body.asha.grace',
    ],
    ['a first rung at the last epoch', { base, space: 'yolov5', trials: 2, asha: { grace: 1 } }, 'body.asha.grace'],
    ['a budget of 0 slot-hours', { base, space: 'yolov5', trials: 2, budget: { slot_hours: 0 } }, 'body.budget.slot_hours'],
    [
      'reduction factor 1',
      { base: { trainer: { kind: 'yolov5', epochs: 9 } }, space: 'yolov5', trials: 2, asha: { reduction_factor: 1 } },
      'body.asha.reduction_factor',
    ],
  ];
  for (const [what, body, field] of asha) {
    const r = await post(body);
    t.equal(r.statusCode, 400, `${what}: 400`);
    t.ok(
      r.json().error.details.some((d: { field: string }) => d.field === field),
      `${what}: details name ${field} (${r.json().error.message})`,
    );
  }
  const extra = await post({ base, space: 'yolov5', trials: 2, colour: 'red' });
  t.equal(extra.statusCode, 400, 'unknown keys are refused');
  t.match(extra.json().error.message, 'colour');
  t.equal((await head.app.inject({ method: 'GET', url: '/v1/studies/nope' })).statusCode, 404, 'an unknown study is a 404');
  const api = (await head.app.inject({ url: '/openapi.json' })).json();
  t.ok(api.paths['/v1/studies'].post.requestBody, 'POST /v1/studies documents its body');
  t.ok(api.paths['/v1/studies/{id}/cancel'].post && api.paths['/v1/studies/{id}/artifacts/{name}'].get, 'cancel and artifacts documented');
  t.equal((await head.app.inject({ method: 'GET', url: '/v1/studies/no.pe' })).statusCode, 400, 'a malformed id is a 400');
});

t.test('a study is kept in KV, listed, cancelled; roles and owners as for jobs', async (t) => {
  const { head, prefix } = await headFixture(t, { restAuth: true });
  const admin = head.firstAdminToken!;
  const as = (token: string | undefined, method: 'GET' | 'POST', url: string, payload?: object) =>
    head.app.inject({ method, url, ...(payload ? { payload } : {}), headers: token ? { authorization: `Bearer ${token}` } : {} });
  const tok = async (role: string) => (await as(admin, 'POST', '/v1/tokens', { role, name: role })).json().token as string;
  const [viewer, sub1, sub2] = [await tok('viewer'), await tok('submitter'), await tok('submitter')];
  const body = { name: 'lr', base: { trainer: { kind: 'logreg', steps: 3 } }, space: { lr: [0.1, 1] }, trials: 2, concurrency: 1, seed: 4 };
  t.equal((await as(undefined, 'POST', '/v1/studies', body)).statusCode, 401, 'no token: 401');
  t.equal((await as(viewer, 'POST', '/v1/studies', body)).statusCode, 403, 'a viewer may not start a study');
  const r = await as(sub1, 'POST', '/v1/studies', body);
  t.equal(r.statusCode, 201, r.body);
  const st = r.json();
  t.match(st, { state: 'running', spec: { method: 'evolve', trials: 2, concurrency: 1, seed: 4 } }, 'defaults filled in');
  const kv = await new Kvm(head.nc).open(subjects(prefix).studiesBucket);
  t.equal((await kv.get(st.id))?.json<{ id: string }>().id, st.id, 'the study is in its KV bucket');
  const trial = await (async () => {
    for (let i = 0; i < 200; i++) {
      const cur = (await as(viewer, 'GET', `/v1/studies/${st.id}`)).json();
      if (cur.trials?.length) return cur.trials[0];
      await new Promise((res) => setTimeout(res, 50));
    }
    return undefined;
  })();
  t.match(
    trial,
    { n: 0, job_id: `${st.id}-t0`, state: 'pending', fitness: null, hyp: { lr: 0.5 } },
    'trial 0 is the base job (logreg lr 0.5)',
  );
  // the trial is written into the study first, its job made right after
  let job = (await as(viewer, 'GET', `/v1/jobs/${st.id}-t0`)).json();
  for (let i = 0; i < 200 && !job.id; i++) {
    await new Promise((res) => setTimeout(res, 50));
    job = (await as(viewer, 'GET', `/v1/jobs/${st.id}-t0`)).json();
  }
  t.match(job, { study: st.id, spec: { trainer: { kind: 'logreg', lr: 0.5 } } }, 'its job is tagged with the study and carries the value');
  t.equal((await as(viewer, 'GET', '/v1/studies')).json().studies.length, 1, 'listed');
  t.equal((await as(sub2, 'POST', `/v1/studies/${st.id}/cancel`)).statusCode, 403, 'another submitter may not cancel it');
  const c = await as(sub1, 'POST', `/v1/studies/${st.id}/cancel`);
  t.match(c.json(), { state: 'cancelled', trials: [{ state: 'cancelled' }] }, 'its owner may');
  t.equal((await as(viewer, 'GET', `/v1/jobs/${st.id}-t0`)).json().state, 'cancelled', 'and the trial job is cancelled');
});

t.test('docs/tune.md stays true: its study block is a valid study, its key list is the evolve table', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { parse } = await import('yaml');
  const { StudySpec } = await import('../../shared/schemas/study.ts');
  const { YOLOV5_META } = await import('../../shared/tune-space.ts');
  const md = readFileSync(new URL('../../docs/tune.md', import.meta.url), 'utf8');
  const block = /^```yaml study\n([\s\S]*?)^```/m.exec(md)?.[1];
  t.ok(block, 'the page has a study block');
  const r = StudySpec.safeParse(parse(block!));
  t.ok(r.success, `it parses as a study (${r.success ? 'ok' : r.error.message})`);
  const listed = /anchor_t, fl_gamma[\s\S]*?copy_paste/.exec(md)?.[0] ?? '';
  const keys =
    /lr0, lrf, momentum[\s\S]*?copy_paste/
      .exec(md)?.[0]
      .split(/,\s*/)
      .map((k) => k.trim()) ?? [];
  t.ok(listed, 'the page lists the keys');
  t.same(keys, Object.keys(YOLOV5_META), "the keys it lists are the evolve table's, in order");
});
