/**
 * A head that loses NATS knows it is the one cut off: /healthz says 503 with the reason, job
 * reads carry how stale they are, writes fail fast with 503 FLO_UNAVAILABLE (never 409, no
 * hang), and once NATS is back no node is declared dead for the silence the head itself caused.
 */
import t from 'tap';
import { startRestartableNats, uniquePrefix } from '../kit/nats-server.ts';
import { pino } from 'pino';
import { startHead } from '../../head/head.ts';
import { FakeAgent, fakeAgentOptions } from './helpers/fake-agent.ts';
import { until } from './helpers/wait.ts';

t.test('NATS lost: healthz 503, stale reads, fast 503 writes; healed: nobody declared dead', async (t) => {
  const nats = await startRestartableNats(t);
  const prefix = uniquePrefix('co');
  const deadAfterMs = 1500;
  const logs: string[] = [];
  const log = pino(
    { level: 'info' },
    {
      write: (l: string) => {
        logs.push(l);
      },
    },
  );
  const head = await startHead({ natsUrl: nats.url, ...nats.auth?.headOptions, prefix, port: null, deadAfterMs, tickMs: 100, log });
  t.teardown(() => head.stop());
  const agent = await new FakeAgent(await fakeAgentOptions(nats, prefix, 'n1'), prefix, 'n1', 1).start();
  t.teardown(() => agent.stop());
  await until('node registered', () => head.ctl.nodes.has('n1'));
  const spec = { workers: 2, trainer: { kind: 'logreg', steps: 5 } };
  const made = await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
  t.equal(made.statusCode, 201);
  const id = made.json().id as string;
  const ok = await head.app.inject({ url: '/healthz' });
  t.equal(ok.statusCode, 200);
  t.equal(ok.json().stale_ms, 0);

  await nats.kill();
  const sick = await until(
    'healthz 503',
    async () => {
      const r = await head.app.inject({ url: '/healthz' });
      return r.statusCode === 503 && r;
    },
    20_000,
  );
  t.match(sick.json().reason, /NATS|JetStream/, `reason: ${sick.json().reason}`);
  t.equal(sick.json().ok, false);
  const t0 = Date.now();
  const post = await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
  const took = Date.now() - t0;
  t.equal(post.statusCode, 503, 'submit while cut off: 503');
  t.equal(post.json().error.code, 'FLO_UNAVAILABLE');
  t.ok(took < 5000, `answered in ${took} ms, not after a request timeout (the hang this guards against was 10 s)`);
  const cancel = await head.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
  t.equal(cancel.statusCode, 503, 'cancel while cut off: 503, not 409');
  await new Promise((r) => setTimeout(r, 2 * deadAfterMs)); // silence well past the dead period
  const read = await head.app.inject({ url: `/v1/jobs/${id}` });
  t.equal(read.statusCode, 200, 'reads still answer from memory');
  const stale = read.json().stale_ms as number;
  t.ok(stale >= 2 * deadAfterMs, `and say how stale they are: ${stale} ms`);
  t.equal(read.headers['x-flotilla-stale-ms'], String(stale));

  await nats.restart();
  await until('healthz 200 again', async () => (await head.app.inject({ url: '/healthz' })).statusCode === 200, 30_000);
  t.equal((await head.app.inject({ url: `/v1/jobs/${id}` })).json().stale_ms, 0, 'fresh again');
  // the agent reconnects on its own and beats again; the head must not have declared it dead
  await new Promise((r) => setTimeout(r, 2 * deadAfterMs));
  t.ok(head.ctl.nodes.has('n1'), 'the node the head could not hear while cut off is still a member');
  t.notOk(
    logs.some((l) => l.includes('node is dead')),
    'and was never declared dead',
  );
  t.ok(
    logs.some((l) => l.includes('head is cut off from NATS')),
    'the head logged that it was the one cut off',
  );
  const after = await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
  t.equal(after.statusCode, 201, 'writes work again');
});
