/**
 * Arming faults over REST and the CLI without a cluster: 400 naming the field at fault (schema
 * and target checks, in POST /v1/jobs and POST /v1/jobs/:id/faults), 409 for a job that is not
 * running, 404 for an unknown job, the route in the OpenAPI document, and `flotilla fault`
 * naming every bad flag before it calls the head.
 */
import t from 'tap';
import { headFixture } from '../head/helpers/head.ts';
import { cli } from '../head/helpers/procs.ts';

const JOB = { workers: 2, trainer: { kind: 'logreg', steps: 5 } };

t.test('POST /v1/jobs/:id/faults: 400 with the field, 409 when not running, 404 for no job', async (t) => {
  const { head } = await headFixture(t);
  const app = head.app;
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: JOB })).json();
  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });
  const noDuration = await post(`/v1/jobs/${job.id}/faults`, { kind: 'stall', target: { rank: 1 } });
  t.equal(noDuration.statusCode, 400);
  t.match(noDuration.json().error.message, /body\.duration_ms: stall needs duration_ms/, 'names duration_ms');
  const badKind = await post(`/v1/jobs/${job.id}/faults`, { faults: [{ kind: 'kill-actor' }, { kind: 'meteor' }] });
  t.equal(badKind.statusCode, 400);
  t.match(badKind.json().error.message, /body\.faults\.1\.kind/, 'names faults.1.kind');
  const pending = await post(`/v1/jobs/${job.id}/faults`, { kind: 'kill-actor' });
  t.equal(pending.statusCode, 409, 'a pending job: 409');
  t.equal(pending.json().error.code, 'FLO_INVALID_STATE');
  t.match(pending.json().error.message, /is pending/);
  t.equal((await post('/v1/jobs/jnope/faults', { kind: 'kill-actor' })).statusCode, 404, 'no such job: 404');
  const planned = await post('/v1/jobs', {
    ...JOB,
    faults: [
      { kind: 'kill-actor', target: { rank: 0 } },
      { kind: 'crash-actor', target: { rank: 2 } },
    ],
  });
  t.equal(planned.statusCode, 400, 'a planned fault on a rank the job lacks: 400');
  t.match(planned.json().error.message, /body\.faults\.1\.target\.rank: the job has 2 rank/);
  t.equal(head.ctl.jobs.list().length, 1, 'and no job was created');
  const doc = head.app.swagger() as { paths: Record<string, Record<string, unknown>> };
  t.ok(doc.paths['/v1/jobs/{id}/faults']?.post, 'the route is in the OpenAPI document');
});

t.test('flotilla fault names every bad flag and calls nobody', async (t) => {
  const rank = await cli(['fault', 'j1', 'kill-actor', '--rank', 'x', '--server', 'http://127.0.0.1:9']);
  t.equal(rank.code, 2, 'exit 2');
  t.match(rank.stderr, /--rank: expected a number, got 'x'/, 'the bad rank');
  const r = await cli(['fault', 'j1', 'slow-link', '--rank', '1', '--server', 'http://127.0.0.1:9']);
  t.equal(r.code, 2, 'exit 2');
  t.match(r.stderr, /--duration-ms: slow-link needs duration_ms/, 'the missing duration');
  t.match(r.stderr, /--rate-kbit: slow-link needs rate_kbit/, 'the missing rate');
  t.notMatch(r.stderr, /cannot reach the head/, 'the head was not called');
  const both = await cli(['fault', 'j1', 'kill-actor', '--at-step', '3', '--after-ms', '5']);
  t.equal(both.code, 2);
  t.match(both.stderr, /--after-ms: give at_step or after_ms, not both/);
});
