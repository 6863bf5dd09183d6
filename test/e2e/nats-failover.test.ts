/**
 * A 3-server NATS cluster (JetStream assets replicated R3): SIGKILL of the server that the
 * job's rank 0 is connected to, mid-job. Its main connection moves to another server, its data
 * lanes reopen there, and the ranks redo the step in flight together (worker/collective,
 * epochs); the job finishes in its first generation with no restart and every step reported
 * once, in order: no step lost.
 */
import t from 'tap';
import { startNatsCluster, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';
import { expectNoLoss } from './outage-helpers.ts';

t.test("rank 0's nats-server dies in a 3-server cluster: it moves to another, 0 steps lost, no restart", async (t) => {
  const cluster = await startNatsCluster(3);
  t.teardown(() => cluster.stop());
  const c = { natsUrl: cluster.urls.join(','), auth: cluster.auth, prefix: uniquePrefix('nf') };
  const head = await until(
    'a head on the new cluster (JetStream meta leader elected)',
    () => startHead({ ...c, ...cluster.auth?.headOptions, port: 0, deadAfterMs: 3000, restartBackoffMs: 200 }).catch(() => null),
    60_000,
  );
  t.teardown(() => head.stop());
  const agents = await Promise.all([startAgentProc(t, c, 'a', 2), startAgentProc(t, c, 'b', 2)]);
  const api = new HeadClient(head.url);
  const steps = 300;
  const job = await api.submit({ workers: 2, max_restarts: 3, checkpoint_every: 5, trainer: { kind: 'logreg', steps, step_delay_ms: 40 } });
  const mid = await until(
    'past step 10',
    async () => {
      const j = await api.get(job.id);
      if (['succeeded', 'failed', 'cancelled'].includes(j.state)) throw new Error(`job ${j.state} before step 10`);
      return j.state === 'running' && j.step >= 10 && j;
    },
    120_000,
  );
  const rank0 = mid.placement.find((p) => p.rank === 0)!.actorId;
  const line = agents
    .flatMap((a) => a.output().split('\n'))
    .find((l) => l.includes(`"actor":"${rank0}"`) && l.includes('"msg":"connected to NATS"'));
  t.ok(line, `rank 0 (${rank0}) logged its server`);
  const server = (JSON.parse(line!) as { server: string }).server;
  const victim = cluster.servers.find((s) => server.endsWith(`:${s.port}`));
  t.ok(victim, `rank 0 is on ${server}`);
  t.comment(`SIGKILL of ${server} (rank 0's server) at step ${mid.step}; the head is on ${head.nc.getServer()}`);
  const killedAt = Date.now();
  await victim!.kill();
  // the server does not come back: "back" is the kill itself (the others serve on)
  await expectNoLoss(t, api, job.id, steps, [{ atStep: mid.step, killedAt, backAt: killedAt, downMs: 0 }], 240_000);
});
