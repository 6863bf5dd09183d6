/**
 * SIGKILL of a worker agent mid-job: the head sees its heartbeats stop, bumps the generation,
 * places the gang on the remaining capacity, every rank resumes from the newest checkpoint,
 * and the job succeeds with no step lost past a checkpoint and none applied twice.
 */
import t from 'tap';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { checkSteps } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';

t.test('SIGKILL of a worker mid-job: recovering, resume from checkpoint, succeed', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('wk') };
  const head = await startHead({ ...c, ...nats.auth?.headOptions, port: 0, deadAfterMs: 2000, restartBackoffMs: 200 });
  t.teardown(() => head.stop());
  const t0 = Date.now();
  const lap = (what: string) => t.comment(`${what} at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const [a, b] = await Promise.all([startAgentProc(t, c, 'a', 2), startAgentProc(t, c, 'b', 2)]);
  const agents = { a, b };
  lap('agents registered');
  const api = new HeadClient(head.url);
  const steps = 40;
  const job = await api.submit({ workers: 2, max_restarts: 3, checkpoint_every: 5, trainer: { kind: 'logreg', steps, step_delay_ms: 80 } });
  const mid = await until('past the first checkpoint', async () => {
    const j = await api.get(job.id);
    return j.state === 'running' && j.step >= 7 && j;
  });
  lap(`step ${mid.step}`);
  const victim = mid.placement[0].nodeId as 'a' | 'b';
  t.ok(
    mid.placement.every((p) => p.nodeId === victim),
    `both ranks packed on node ${victim}`,
  );
  await agents[victim].kill('SIGKILL');
  lap('killed');
  const rec = await until('recovering', async () => {
    const j = await api.get(job.id);
    return j.generation >= 1 && j;
  });
  lap('recovering');
  t.ok(rec.restarts >= 1, 'counted as a restart');
  const done = await until(
    'finished',
    async () => {
      const j = await api.get(job.id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    90_000,
  );
  lap('finished');
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  t.ok(await until('the final step recorded', async () => (await api.get(job.id)).step === steps), 'final step recorded');
  const events = [];
  for await (const e of api.events(job.id, { follow: false })) events.push(e.event);
  t.same(
    events
      .filter((e) => e.type === 'state')
      .map((e) => (e.type === 'state' ? e.state : ''))
      .slice(0, 4),
    ['pending', 'running', 'recovering', 'running'],
  );
  const report = checkSteps(events, steps);
  t.ok(report.ok, `step sequence: ${report.problems.join('; ') || 'contiguous per generation, resumed at checkpoint + 1'}`);
  t.ok(report.generations.length >= 2, `steps from ${report.generations.length} generations (${JSON.stringify(report.firstSteps)})`);
  const resumed = report.firstSteps[report.generations[1]];
  t.ok(resumed > 1, `the second generation resumed at step ${resumed}, not from scratch`);
});
