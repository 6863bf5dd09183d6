/**
 * SIGKILL of the head mid-job and a new head started: the new head loads jobs and nodes from
 * KV, adopts the running gang without disturbing it (same generation, no restart), processes
 * actor exits that arrived while no head ran (they wait in a stream), and the job succeeds.
 */
import t from 'tap';
import { startNatsServer, uniquePrefix, freePort } from '../kit/nats-server.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc, startHeadProc } from '../head/helpers/procs.ts';
import { checkSteps } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';

t.test('SIGKILL of the head mid-job, a new head started: the job still succeeds', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('hk') };
  const port = await freePort();
  const t0 = Date.now();
  const lap = (what: string) => t.comment(`${what} at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const [first] = await Promise.all([startHeadProc(t, c, port), startAgentProc(t, c, 'w1', 2, false)]);
  const api = new HeadClient(first.url);
  await until('worker registered', async () => (await api.workers()).length === 1);
  lap('head and worker up');
  const steps = 100;
  const job = await api.submit({ workers: 2, checkpoint_every: 5, trainer: { kind: 'logreg', steps, step_delay_ms: 100 } });
  const mid = await until('running', async () => {
    const j = await api.get(job.id);
    return j.state === 'running' && j.step >= 3 && j;
  });
  lap(`step ${mid.step}`);
  await first.p.kill('SIGKILL');
  lap('head killed');
  const second = await startHeadProc(t, c, port);
  lap('new head listening');
  const done = await until(
    'finished',
    async () => {
      const j = await api.get(job.id).catch(() => undefined);
      return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    90_000,
  );
  lap('finished');
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  t.equal(done.generation, 0, 'the gang was not disturbed: same generation');
  t.equal(done.restarts, 0, 'no restart');
  t.ok(await until('the final step recorded', async () => (await api.get(job.id)).step === steps), 'final step recorded');
  const events = [];
  for await (const e of api.events(job.id, { follow: false })) events.push(e.event);
  const report = checkSteps(events, steps);
  t.ok(report.ok, `step sequence: ${report.problems.join('; ') || 'one generation, every step once'}`);
  t.equal((await api.workers()).length, 1, 'the live worker is known to the new head');
  await second.p.kill('SIGTERM');
  t.equal((await second.p.exited).code, 0, 'the head exits 0 on SIGTERM');
});
