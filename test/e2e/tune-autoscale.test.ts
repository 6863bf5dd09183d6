/**
 * A study and the autoscaler (local provider, scale to zero, room for 4 one-slot workers): a
 * study of 4 logreg trials, 2 at a time, on an empty pool. Its trial jobs are pending jobs like
 * any other, so the autoscaler starts workers for them: 2, its concurrency, not the 4 it may;
 * the same 2 serve the later trials (the next trial is made as soon as one ends, well within
 * the idle timeout), and when the study has ended the pool goes back to zero.
 */
import t from 'tap';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { LocalProvider } from '../../head/autoscaler/provider-local.ts';
import { coreShareEnv } from '../../worker/agent/index.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { until } from '../head/helpers/wait.ts';

t.test('a study scales the pool up to its concurrency and back to zero at its end', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('ta') };
  const provider = new LocalProvider({ ...c, slots: 1, env: coreShareEnv(2) });
  const head = await startHead({
    ...c,
    ...nats.auth?.headOptions,
    port: 0,
    deadAfterMs: 20_000,
    autoscaler: { provider, slotsPerWorker: 1, minWorkers: 0, maxWorkers: 4, idleTimeoutMs: 4000, intervalMs: 200, bootTimeoutMs: 600_000 },
  });
  t.teardown(() => head.stop());
  const api = new HeadClient(head.url);
  t.equal(provider.list().length, 0, 'the pool starts empty');
  const started = new Set<string>();
  let most = 0;
  const watch = setInterval(() => {
    for (const id of provider.list()) started.add(id);
    most = Math.max(most, provider.list().length);
  }, 100);
  t.teardown(() => clearInterval(watch));
  const st = await api.startStudy({
    base: { trainer: { kind: 'logreg', steps: 20, step_delay_ms: 100 } },
    space: { lr: [0.05, 1] },
    method: 'random',
    trials: 4,
    concurrency: 2,
    seed: 2,
  });
  const done = await until(
    'the study ended',
    async () => {
      const s = await api.study(st.id);
      return s.state !== 'running' && s;
    },
    400_000,
  );
  t.equal(done.state, 'succeeded', done.message ?? '');
  t.ok(
    done.trials.every((x) => x.state === 'succeeded' && x.fitness !== null),
    'every trial scored',
  );
  t.equal(most, 2, `the autoscaler ran at most 2 workers at once for a study of concurrency 2 (max 4 allowed; ${most})`);
  t.equal(started.size, 2, `and started 2 in all: the later trials reused them (${[...started].join(', ')})`);
  await until('scaled back to zero', async () => provider.list().length === 0 && (await api.workers()).length === 0, 120_000);
  t.pass('the pool is empty again after the study');
});
