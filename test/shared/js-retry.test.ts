import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { caughtUp } from '../kit/js-caught-up.ts';
import { Kvm } from '@nats-io/kv';
import { startNatsServer, startNatsCluster, uniquePrefix } from '../kit/nats-server.ts';
import { isTransientJsError, withJsRetry } from '../../shared/js-retry.ts';
import { FlotillaError } from '../../shared/errors.ts';

t.test('classification on real errors: no responders and timeouts are transient, a CAS conflict is not', async (t) => {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  const nc = await connect(srv.options());
  t.teardown(() => nc.close());
  const noResp = await nc.request(`${uniquePrefix()}.nobody`, 'x', { timeout: 1000 }).catch((e: unknown) => e);
  t.ok(isTransientJsError(noResp), `no responders is transient (${(noResp as Error).message})`);
  const sub = nc.subscribe('silent.x'); // never answers
  t.teardown(() => sub.unsubscribe());
  const timeout = await nc.request('silent.x', 'x', { timeout: 200 }).catch((e: unknown) => e);
  t.ok(isTransientJsError(timeout), `a timeout is transient (${(timeout as Error).message})`);
  const kv = await new Kvm(nc).create(uniquePrefix('b'));
  await kv.create('k', 'v1');
  const conflict = await kv.create('k', 'v2').catch((e: unknown) => e);
  t.ok(conflict instanceof Error, 'second create of a key fails');
  t.notOk(isTransientJsError(conflict), `a CAS conflict is not transient (${(conflict as Error).message})`);
  let calls = 0;
  await t.rejects(
    withJsRetry('conflict', async () => {
      calls++;
      return kv.create('k', 'v3');
    }),
    /wrong last sequence|key exists/i,
  );
  t.equal(calls, 1, 'a non-transient error is thrown at once, not retried');
});

t.test('a KV write rides out a nats-server restart, then succeeds', async (t) => {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  const nc = await connect({ ...srv.options(), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  t.teardown(() => nc.close());
  const js = jetstream(nc, { timeout: 1000 });
  const kv = await new Kvm(js).create('retry_b');
  await kv.put('a', '1');
  await srv.kill();
  const retries: number[] = [];
  const write = withJsRetry('put b', () => kv.put('b', '2'), { onRetry: (i) => retries.push(i.attempt) });
  await new Promise((r) => setTimeout(r, 1500));
  await srv.restart();
  const seq = await write;
  t.ok(seq > 0, 'the write landed after the restart');
  t.ok(retries.length >= 1, `it was retried (${retries.length} retries)`);
  t.equal((await kv.get('b'))?.string(), '2');
});

t.test('gives up with a typed retryable FLO_UNAVAILABLE; failFast stops at once', async (t) => {
  const srv = await startNatsServer();
  const nc = await connect({ ...srv.options(), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  t.teardown(() => nc.close());
  const kv = await new Kvm(jetstream(nc, { timeout: 300 })).create('gone');
  await srv.stop();
  const t0 = Date.now();
  const err = await withJsRetry('put x', () => kv.put('x', '1'), { attempts: 3, baseMs: 50 }).catch((e: unknown) => e);
  t.ok(err instanceof FlotillaError, 'a FlotillaError');
  t.equal((err as FlotillaError).code, 'FLO_UNAVAILABLE');
  t.equal((err as FlotillaError).retryable, true, 'marked retryable');
  t.match((err as FlotillaError).message, /put x: JetStream unavailable, gave up/);
  t.ok((err as FlotillaError).cause, 'carries the last error as cause');
  t.ok(Date.now() - t0 < 10_000, 'bounded');
  let calls = 0;
  const fast = await withJsRetry(
    'put y',
    async () => {
      calls++;
      return 1;
    },
    { failFast: () => 'not connected to NATS' },
  ).catch((e: unknown) => e);
  t.equal(calls, 0, 'failFast: the call is not even tried');
  t.equal((fast as FlotillaError).code, 'FLO_UNAVAILABLE');
  t.match((fast as FlotillaError).message, /put y: not connected to NATS/);
});

t.test('3-server cluster: R3 KV writes go on through the SIGKILL of each server in turn', async (t) => {
  const c = await startNatsCluster(3);
  t.teardown(() => c.stop());
  const nc = await connect({ ...c.options(), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  t.teardown(() => nc.close());
  const js = jetstream(nc, { timeout: 2000 });
  const kv = await withJsRetry('create', () => new Kvm(js).create('ha', { replicas: 3 }), { budgetMs: 30_000, attempts: 50 });
  const jsm = await jetstreamManager(nc, { timeout: 2000 });
  let n = 0;
  for (const victim of [0, 1, 2]) {
    for (let i = 0; i < 5; i++)
      await withJsRetry(`put ${n}`, () => kv.put(`k${n}`, String(n)), { budgetMs: 30_000, attempts: 50 }).then(() => n++);
    const s = c.servers[victim];
    await s.kill();
    for (let i = 0; i < 5; i++)
      await withJsRetry(`put ${n}`, () => kv.put(`k${n}`, String(n)), { budgetMs: 30_000, attempts: 50 }).then(() => n++);
    // bring it back (same ports, same store) and let it catch up before the next one dies, as a
    // rolling restart does: killing the next while this one still replays its log is losing two
    await s.restart();
    await caughtUp(jsm, 3, 'KV_ha');
  }
  t.equal(n, 30, 'every write landed');
  for (let i = 0; i < n; i++) t.equal((await withJsRetry('get', () => kv.get(`k${i}`), { budgetMs: 30_000 }))?.string(), String(i));
  t.end();
});
