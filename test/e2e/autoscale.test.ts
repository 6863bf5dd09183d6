/**
 * Pool scaling with the local provider: an empty pool scales up for a pending job (a worker
 * process is started and registers), the job runs and succeeds, and the pool goes back to
 * zero once the worker has been idle for the idle timeout (the worker drains and exits).
 */
import t from 'tap';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { LocalProvider } from '../../head/autoscaler/provider-local.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { until } from '../head/helpers/wait.ts';

t.test('scale up for a pending job, back to zero when idle (local provider)', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('as') };
  const provider = new LocalProvider({ ...c, slots: 2 });
  const head = await startHead({
    ...c,
    ...nats.auth?.headOptions,
    port: 0,
    deadAfterMs: 2000,
    autoscaler: { provider, slotsPerWorker: 2, minWorkers: 0, maxWorkers: 2, idleTimeoutMs: 1500, intervalMs: 200 },
  });
  t.teardown(() => head.stop());
  const api = new HeadClient(head.url);
  t.equal(provider.list().length, 0, 'starts with no workers');
  const job = await api.submit({ workers: 2, trainer: { kind: 'logreg', steps: 5 } });
  await until('a worker started', () => provider.list().length > 0);
  t.equal(provider.list().length, 1, 'one 2-slot worker covers a 2-rank job');
  const pids = provider.list().map((id) => provider.process(id)?.pid);
  await until('the worker registered', async () => (await api.workers()).length === 1);
  const done = await until(
    'finished',
    async () => {
      const j = await api.get(job.id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    90_000,
  );
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  await until('scaled back to zero', async () => provider.list().length === 0 && (await api.workers()).length === 0);
  t.pass('pool is empty again');
  for (const pid of pids) {
    let alive = true;
    try {
      process.kill(pid!, 0);
    } catch {
      alive = false;
    }
    t.notOk(alive, `worker process ${pid} exited`);
  }
});
