/**
 * A 3-server NATS cluster (JetStream assets replicated R3): SIGKILL of the server that the
 * job's rank 0 is connected to, mid-job. Its data lanes die with it, which fails the step as
 * retryable; the actors, the agents and the head move to the other servers, the gang restarts
 * from the newest checkpoint, and the job succeeds with no step lost past a checkpoint and
 * none applied twice.
 */
import t from 'tap';
import { startNatsCluster, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { checkSteps } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';

t.test('the worker\'s nats-server dies in a 3-server cluster: it moves to another, the job succeeds', async (t) => {
  const cluster = await startNatsCluster(3);
  t.teardown(() => cluster.stop());
  const c = { natsUrl: cluster.urls.join(','), auth: cluster.auth, prefix: uniquePrefix('nf') };
  const head = await until('a head on the new cluster (JetStream meta leader elected)',
    () => startHead({ ...c, ...cluster.auth?.headOptions, port: 0, deadAfterMs: 3000, restartBackoffMs: 200 }).catch(() => null), 60_000);
  t.teardown(() => head.stop());
  const agents = await Promise.all([startAgentProc(t, c, 'a', 2), startAgentProc(t, c, 'b', 2)]);
  const api = new HeadClient(head.url);
  const steps = 40;
  const job = await api.submit({ workers: 2, max_restarts: 3, checkpoint_every: 5, trainer: { kind: 'logreg', steps, step_delay_ms: 80 } });
  const mid = await until('past the first checkpoint', async () => { const j = await api.get(job.id); return j.state === 'running' && j.step >= 7 && j; }, 60_000);
  const rank0 = mid.placement.find((p) => p.rank === 0)!.actorId;
  const line = agents.flatMap((a) => a.output().split('\n')).find((l) => l.includes(`"actor":"${rank0}"`) && l.includes('"msg":"connected to NATS"'));
  t.ok(line, `rank 0 (${rank0}) logged its server`);
  const server = (JSON.parse(line!) as { server: string }).server;
  const victim = cluster.servers.find((s) => server.endsWith(`:${s.port}`));
  t.ok(victim, `rank 0 is on ${server}`);
  t.comment(`SIGKILL of ${server} (rank 0's server) at step ${mid.step}; the head is on ${head.nc.getServer()}`);
  const killedAt = Date.now();
  await victim!.kill();
  let seen = '';
  const done = await until('finished', async () => {
    const j = await api.get(job.id).catch(() => undefined);
    const now = j ? `${j.state} g${j.generation}` : 'no answer';
    if (now !== seen) { seen = now; t.comment(`+${((Date.now() - killedAt) / 1000).toFixed(1)} s: ${now}${j ? ` step ${j.step} (${j.message ?? ''})` : ''}`); }
    return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
  }, 150_000);
  t.comment(`job ${done.state} ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  t.ok(done.generation >= 1 && done.restarts <= 3, `restarts used: ${done.restarts}, generation ${done.generation}`);
  const events = [];
  for await (const e of api.events(job.id, { follow: false })) events.push(e.event);
  const report = checkSteps(events, steps);
  t.ok(report.ok, `step sequence: ${report.problems.join('; ') || 'resumed at checkpoint + 1'} (${JSON.stringify(report.firstSteps)})`);
});
