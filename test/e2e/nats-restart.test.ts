/**
 * SIGKILL of the one nats-server mid-job, restarted 0.5 s later on the same port and store:
 * the actors' data lanes die with it, which fails the step as retryable (not fatal), the head
 * restarts the gang from the newest checkpoint and the job succeeds, with no step lost past a
 * checkpoint and none applied twice.
 */
import t from 'tap';
import { startRestartableNats, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { checkSteps } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';

t.test('nats-server SIGKILLed and restarted mid-job: the job succeeds', async (t) => {
  const nats = await startRestartableNats(t);
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('nr') };
  const head = await startHead({ ...c, ...nats.auth?.headOptions, port: 0, deadAfterMs: 3000, restartBackoffMs: 200 });
  t.teardown(() => head.stop());
  await Promise.all([startAgentProc(t, c, 'a', 2), startAgentProc(t, c, 'b', 2)]);
  const api = new HeadClient(head.url);
  const steps = 40;
  const job = await api.submit({ workers: 2, max_restarts: 3, checkpoint_every: 5, trainer: { kind: 'logreg', steps, step_delay_ms: 80 } });
  const mid = await until('past the first checkpoint', async () => { const j = await api.get(job.id); return j.state === 'running' && j.step >= 7 && j; });
  t.comment(`SIGKILL of nats-server at step ${mid.step}`);
  await nats.kill();
  await new Promise((r) => setTimeout(r, 500));
  await nats.restart();
  const done = await until('finished', async () => {
    const j = await api.get(job.id).catch(() => undefined); // the head may still be reconnecting
    return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
  }, 120_000);
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  t.ok(done.restarts <= 3, `restarts used: ${done.restarts}`);
  const events = [];
  for await (const e of api.events(job.id, { follow: false })) events.push(e.event);
  const report = checkSteps(events, steps);
  t.ok(report.ok, `step sequence: ${report.problems.join('; ') || 'resumed at checkpoint + 1'} (${JSON.stringify(report.firstSteps)})`);
});
