/**
 * REST authentication and roles against a real head: a 401/403 matrix over every route of the
 * OpenAPI document (a new route without a row fails the test), tokens created, listed and
 * revoked, submitters limited to their own jobs, the one-time login link and its session
 * cookie, worker join tokens issued over REST, and the OpenAPI security scheme.
 */
import t from 'tap';
import { headFixture } from '../head/helpers/head.ts';
import { parseJoinToken } from '../../shared/join-token.ts';

type Role = 'open' | 'viewer' | 'submitter' | 'admin';
const JOB = { workers: 1, trainer: { kind: 'logreg', steps: 5 } };

t.test('every route: no token 401, bad token 401, too small a role 403, enough passes', async (t) => {
  const { head } = await headFixture(t, { restAuth: true });
  const app = head.app;
  const tokens = head.tokens!;
  t.ok(head.firstAdminToken, 'a first admin token was made');
  const admin = head.firstAdminToken!;
  const mk = async (role: 'viewer' | 'submitter') => (await tokens.create(role, role)).token;
  const tok = { admin, submitter: await mk('submitter'), viewer: await mk('viewer') };
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: JOB, headers: { authorization: `Bearer ${admin}` } })).json();
  const some = (await tokens.create('viewer', 'victim')).info.id;
  // method, url, least role, body
  const rows: Array<[string, string, Role, unknown?]> = [
    ['GET', '/healthz', 'open'],
    ['GET', '/openapi.json', 'open'],
    ['GET', '/', 'open'],
    ['GET', '/metrics', 'viewer'],
    ['GET', '/v1/workers', 'viewer'],
    ['GET', '/v1/jobs', 'viewer'],
    ['GET', `/v1/jobs/${job.id}`, 'viewer'],
    ['GET', `/v1/jobs/${job.id}/events?follow=false`, 'viewer'],
    ['GET', `/v1/jobs/${job.id}/artifacts`, 'viewer'],
    ['GET', `/v1/jobs/${job.id}/artifacts/none`, 'viewer'],
    ['GET', `/v1/jobs/${job.id}/report`, 'viewer'],
    ['POST', '/v1/jobs', 'submitter', JOB],
    ['PATCH', `/v1/jobs/${job.id}`, 'admin', { workers: 2 }],
    ['POST', `/v1/jobs/${job.id}/faults`, 'admin', { kind: 'kill-actor' }],
    ['POST', `/v1/jobs/${job.id}/cancel`, 'admin'],
    ['POST', '/v1/tokens', 'admin', { role: 'viewer' }],
    ['GET', '/v1/tokens', 'admin'],
    ['DELETE', `/v1/tokens/${some}`, 'admin'],
    ['POST', '/v1/login-links', 'admin'],
    ['POST', '/v1/detect', 'submitter', { job: job.id, image: 'AAAA' }],
    // studies: an id no study has (a 404 once the caller may ask), a body the schema refuses (400)
    ['POST', '/v1/studies', 'submitter', {}],
    ['GET', '/v1/studies', 'viewer'],
    ['GET', `/v1/studies/${job.id}`, 'viewer'],
    ['POST', `/v1/studies/${job.id}/cancel`, 'submitter'],
    ['GET', `/v1/studies/${job.id}/artifacts`, 'viewer'],
    ['GET', `/v1/studies/${job.id}/artifacts/none`, 'viewer'],
  ];
  const order: Role[] = ['viewer', 'submitter', 'admin'];
  for (const [method, url, need, payload] of rows) {
    const call = (authorization?: string) =>
      app.inject({
        method: method as 'GET',
        url,
        ...(payload ? { payload: payload as object } : {}),
        headers: authorization ? { authorization } : {},
      });
    if (need === 'open') {
      t.not((await call()).statusCode, 401, `${method} ${url} is open`);
      continue;
    }
    const none = await call();
    t.equal(none.statusCode, 401, `${method} ${url} without a token: 401`);
    t.equal(none.json().error.code, 'FLO_UNAUTHENTICATED');
    t.equal(
      (await call('Bearer flo_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).statusCode,
      401,
      `${method} ${url} with a bad token: 401`,
    );
    t.equal((await call(`Basic ${admin}`)).statusCode, 401, `${method} ${url} with the wrong scheme: 401`);
    for (const r of order) {
      const res = await call(`Bearer ${tok[r as keyof typeof tok]}`);
      if (order.indexOf(r) < order.indexOf(need)) {
        t.equal(res.statusCode, 403, `${method} ${url} as ${r}: 403`);
        t.equal(res.json().error.code, 'FLO_FORBIDDEN');
      } else t.notOk([401, 403].includes(res.statusCode), `${method} ${url} as ${r}: allowed (${res.statusCode})`);
    }
  }
  const doc = app.swagger() as {
    paths: Record<string, Record<string, unknown>>;
    components?: { securitySchemes?: Record<string, unknown> };
  };
  const covered = new Set(
    rows.map(([m, u]) => `${m} ${u.replace(job.id, ':id').replace(some, ':id').replace('/none', '/:name').replace('?follow=false', '')}`),
  );
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const m of Object.keys(ops)) {
      const key = `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`;
      t.ok(covered.has(key) || key === 'GET /login', `the matrix covers ${key}`);
    }
  }
  t.match(doc.components?.securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } }, 'OpenAPI names the bearer scheme');
  t.equal(
    (await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${tok.viewer}` } })).statusCode,
    200,
    'Prometheus can scrape with a viewer token',
  );
});

t.test('tokens: hashed, listed without secrets, revoked; submitters own their jobs', async (t) => {
  const { head } = await headFixture(t, { restAuth: true });
  const app = head.app;
  const auth = (tk: string) => ({ authorization: `Bearer ${tk}` });
  const admin = head.firstAdminToken!;
  const made = await app.inject({ method: 'POST', url: '/v1/tokens', payload: { role: 'submitter', name: 'alice' }, headers: auth(admin) });
  t.equal(made.statusCode, 201);
  const alice = made.json();
  t.match(alice.token, /^flo_[a-f0-9]{12}_/);
  const bob = (
    await app.inject({ method: 'POST', url: '/v1/tokens', payload: { role: 'submitter', name: 'bob' }, headers: auth(admin) })
  ).json();
  const list = (await app.inject({ url: '/v1/tokens', headers: auth(admin) })).json().tokens;
  t.ok(
    list.some((x: { id: string }) => x.id === alice.id),
    'listed',
  );
  // the secret is base64url and may itself hold '_': take everything after `flo_<id>_`
  const secret = alice.token.slice('flo_'.length + 12 + 1);
  t.equal(secret.length, 43, 'a 256-bit secret');
  t.notOk(JSON.stringify(list).includes(secret), 'no secret in the list');
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/tokens', payload: { role: 'root' }, headers: auth(admin) })).json().error.code,
    'FLO_VALIDATION',
    'an unknown role is a 400',
  );
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: JOB, headers: auth(alice.token) })).json();
  t.equal(job.owner, alice.id, 'the job records its submitter');
  const theft = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: auth(bob.token) });
  t.equal(theft.statusCode, 403, "bob cannot cancel alice's job");
  t.equal(head.ctl.jobs.get(job.id)!.state, 'pending', 'and the job is unharmed');
  t.equal(
    (await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, payload: { workers: 3 }, headers: auth(bob.token) })).statusCode,
    403,
    'nor scale it',
  );
  t.equal(
    (await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: auth(alice.token) })).statusCode,
    200,
    'alice can',
  );
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/tokens/${alice.id}`, headers: auth(admin) })).statusCode, 200, 'revoked');
  t.equal((await app.inject({ url: '/v1/jobs', headers: auth(alice.token) })).statusCode, 401, 'a revoked token is refused');
});

t.test('the one-time login link sets an HttpOnly session cookie accepted like a bearer token', async (t) => {
  const { head } = await headFixture(t, { restAuth: true });
  const app = head.app;
  const link = (
    await app.inject({ method: 'POST', url: '/v1/login-links', headers: { authorization: `Bearer ${head.firstAdminToken}` } })
  ).json();
  const res = await app.inject({ url: link.path });
  t.equal(res.statusCode, 302, 'redirects to the dashboard');
  t.equal(res.headers.location, '/');
  const set = String(res.headers['set-cookie']);
  t.match(set, /flotilla_session=flo_/);
  t.match(set, /HttpOnly/i);
  t.match(set, /SameSite=Strict/i);
  const cookie = set.split(';')[0];
  t.equal((await app.inject({ url: '/v1/jobs', headers: { cookie } })).statusCode, 200, 'the cookie reads');
  t.equal((await app.inject({ url: link.path })).statusCode, 401, 'the link works once');
  t.equal(
    (
      await app.inject({
        url: '/v1/jobs',
        headers: { cookie: 'flotilla_session=flo_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      })
    ).statusCode,
    401,
    'a forged cookie is refused',
  );
});

t.test('worker join tokens over REST: node-bound with a name, a pool token without', async (t) => {
  const { head } = await headFixture(t, { restAuth: true });
  const h = { authorization: `Bearer ${head.firstAdminToken}` };
  const node = (
    await head.app.inject({ method: 'POST', url: '/v1/tokens', payload: { role: 'worker', name: 'gpu-7' }, headers: h })
  ).json();
  t.match(parseJoinToken(node.token), { kind: 'node', nodeId: 'gpu-7', tokenId: node.id });
  const pool = (await head.app.inject({ method: 'POST', url: '/v1/tokens', payload: { role: 'worker' }, headers: h })).json();
  t.match(parseJoinToken(pool.token), { kind: 'pool', tokenId: pool.id });
  t.equal(
    (await head.app.inject({ url: '/v1/jobs', headers: { authorization: `Bearer ${node.token}` } })).statusCode,
    401,
    'a join token is no REST identity',
  );
});
