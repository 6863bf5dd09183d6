/**
 * Fencing, with real actor processes: an actor whose job record shows a newer generation stops
 * itself although no jobAbort ever reached it; an actor whose only nats-server is killed holds
 * its lease while disconnected (an outage of the server is not the actor being cut off: the
 * head is cut off too) and trains on when the server is back, but disconnected for longer than
 * its outage hold (the job's allreduce timeout) it stops itself instead of training on as a
 * second copy, and its exit report reaches the restarted server; an older generation cannot
 * write a checkpoint once the job has moved on.
 */
import t from 'tap';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { encode } from '../../shared/codec.ts';
import { subjects } from '../../shared/subjects.ts';
import { ActorExit } from '../../shared/schemas/index.ts';
import { exitsStreamName } from '../../head/resources.ts';
import { startRestartableNats, uniquePrefix } from '../kit/nats-server.ts';
import { CheckpointStore } from '../../worker/actor/checkpoint-store.ts';
import { Fence } from '../../worker/actor/fence.ts';
import { actorSpec, control, exits, jobSpec, jobStores, natsEnv, startTestAgent, waitActor } from './helpers.ts';

const job = jobSpec({ trainer: { kind: 'logreg', steps: 100_000, step_delay_ms: 20 } });

async function putJob(nc: NatsConnection, prefix: string, id: string, generation: number, state = 'running'): Promise<void> {
  const kv = await new Kvm(jetstream(nc)).create(subjects(prefix).jobsBucket, { history: 1 });
  await kv.put(id, encode({ id, state, generation }));
}

t.test('a newer generation in the job record stops the actor without a jobAbort', async (t) => {
  const env = await natsEnv(t, 'fs');
  await putJob(env.nc, env.prefix, 'jf1', 0);
  await startTestAgent(t, env, { nodeId: 'node-f' });
  const ex = exits(env.nc, env.s);
  const spec = { ...actorSpec({ jobId: 'jf1', actorId: 'jf1-g0-r0', nodeId: 'node-f', job }), leaseMs: 1500 };
  t.match(await control(env.nc, env.s.nodeControl('node-f'), { op: 'spawn', actor: spec }), { ok: true });
  await waitActor(env.nc, env.s, spec.actorId, (st) => (st.step ?? 0) >= 3);
  await putJob(env.nc, env.prefix, 'jf1', 1); // the head moved on; its abort never arrived
  const x = await ex.next((e) => e.actorId === spec.actorId);
  t.equal(x.outcome.kind, 'cancelled', 'a superseded actor ends cancelled');
  t.match(x.outcome.message, /superseded: job jf1 is running at generation 1/);
});

t.test('its server down for longer than its lease but shorter than the outage hold, an actor trains on', async (t) => {
  const srv = await startRestartableNats(t);
  const nc = await connect({ ...srv.options(), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  t.teardown(() => nc.close());
  const prefix = uniquePrefix('fo');
  const s = subjects(prefix);
  await putJob(nc, prefix, 'jf5', 0);
  const agent = await startTestAgent(t, { srv, nc, prefix }, { nodeId: 'node-o' });
  // lease 1500 ms, hold 30 s (the default allreduce timeout)
  const spec = { ...actorSpec({ jobId: 'jf5', actorId: 'jf5-g0-r0', nodeId: 'node-o', job }), leaseMs: 1500 };
  t.match(await control(nc, s.nodeControl('node-o'), { op: 'spawn', actor: spec }), { ok: true });
  const before = await waitActor(nc, s, spec.actorId, (st) => (st.step ?? 0) >= 3);
  await srv.kill();
  await new Promise((r) => setTimeout(r, 4000)); // well past the lease
  t.equal(agent.briefs().length, 1, 'the actor is still running while its server is down');
  await srv.restart();
  const after = await waitActor(nc, s, spec.actorId, (st) => (st.step ?? 0) >= (before.step ?? 0) + 20);
  t.ok(after.state === 'running', `it trains on after the outage (step ${before.step} -> ${after.step})`);
});

t.test('disconnected for longer than its outage hold, an actor stops itself; its exit report survives', async (t) => {
  const srv = await startRestartableNats(t);
  const nc = await connect({ ...srv.options(), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  t.teardown(() => nc.close());
  const prefix = uniquePrefix('fl');
  const s = subjects(prefix);
  await (await jetstreamManager(nc)).streams.add({ name: exitsStreamName(s), subjects: [s.allActorExits] });
  await putJob(nc, prefix, 'jf2', 0);
  const agent = await startTestAgent(t, { srv, nc, prefix }, { nodeId: 'node-g' });
  // the outage hold is the job's allreduce timeout: 3 s here
  const short = jobSpec({
    trainer: { kind: 'logreg', steps: 100_000, step_delay_ms: 20 },
    allreduce: { algorithm: 'auto', fp16: false, timeout_ms: 3000 },
  });
  const spec = { ...actorSpec({ jobId: 'jf2', actorId: 'jf2-g0-r0', nodeId: 'node-g', job: short }), leaseMs: 1500 };
  t.match(await control(nc, s.nodeControl('node-g'), { op: 'spawn', actor: spec }), { ok: true });
  await waitActor(nc, s, spec.actorId, (st) => (st.step ?? 0) >= 3);
  await srv.kill();
  const killedAt = Date.now();
  // a 1-rank logreg job needs no peer: without the fence it would train on, unseen, for good
  for (;;) {
    if (agent.briefs().length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.pass(`the cut-off actor exited on its own while the server was down (${Date.now() - killedAt} ms after the kill)`);
  await srv.restart();
  const stream = exitsStreamName(s);
  for (;;) {
    // our own client reconnects too
    const info = await jetstreamManager(nc)
      .then((m) => m.streams.info(stream))
      .catch(() => null);
    if (info && info.state.messages > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.comment(`exit report stored ${Date.now() - killedAt} ms after the kill`);
  const jsm = await jetstreamManager(nc);
  const first = (await jsm.streams.info(stream)).state.first_seq;
  const x = ActorExit.parse((await jsm.streams.getMessage(stream, { seq: first }))?.json());
  t.equal(x.actorId, spec.actorId);
  t.equal(x.outcome.kind, 'retryable', 'a self-fenced actor is retryable (its gang must be restarted)');
  t.match(x.outcome.message, /self-fenced: disconnected from NATS for \d+ ms \(an outage is waited out for 3000 ms\)/);
});

t.test('a checkpoint of a superseded generation is refused', async (t) => {
  const env = await natsEnv(t, 'fc');
  await putJob(env.nc, env.prefix, 'jf3', 2);
  const stale = { ...actorSpec({ jobId: 'jf3', actorId: 'jf3-g1-r0', generation: 1, nodeId: 'n', job }), leaseMs: 3000 };
  const verdicts: string[] = [];
  const fence = new Fence({ nc: env.nc, prefix: env.prefix, spec: stale, onFenced: (v) => verdicts.push(v.kind) });
  await jobStores(env, 'jf3');
  const store = await CheckpointStore.open(env.nc, env.prefix, 'jf3', { generation: 1, guard: (what) => fence.check(what) });
  const e = await store.save(10, new Uint8Array([1, 2, 3])).catch((x: unknown) => x);
  t.match(e, { code: 'FLO_STALE_GENERATION' }, `refused: ${String(e)}`);
  t.same(verdicts, ['superseded'], 'the fence reported the verdict once');
  t.same(await store.list(), [], 'nothing was written');
  const current = { ...stale, actorId: 'jf3-g2-r0', generation: 2 };
  const ok = new Fence({ nc: env.nc, prefix: env.prefix, spec: current, onFenced: () => t.fail('the current generation is not fenced') });
  const store2 = await CheckpointStore.open(env.nc, env.prefix, 'jf3', { generation: 2, guard: (what) => ok.check(what) });
  await store2.save(10, new Uint8Array([1, 2, 3]));
  t.same(
    (await store2.list()).map((c) => c.info.metadata?.['flotilla-generation']),
    ['2'],
    'the current generation writes, and its generation is recorded',
  );
  fence.stop();
  ok.stop();
});

t.test('a blocked event loop is not silence: no self-fencing after a long synchronous stretch', async (t) => {
  const env = await natsEnv(t, 'fb');
  await putJob(env.nc, env.prefix, 'jf4', 0);
  const spec = { ...actorSpec({ jobId: 'jf4', actorId: 'jf4-g0-r0', nodeId: 'n', job }), leaseMs: 400 };
  const verdicts: string[] = [];
  const fence = new Fence({ nc: env.nc, prefix: env.prefix, spec, onFenced: (v) => verdicts.push(v.message) });
  fence.start();
  t.teardown(() => fence.stop());
  await new Promise((r) => setTimeout(r, 300));
  const until = Date.now() + 1500; // a model build or a dataset scan that never yields
  while (Date.now() < until) {
    /* busy */
  }
  await new Promise((r) => setTimeout(r, 600)); // reads resume and answer
  await fence.check('a checkpoint');
  t.same(verdicts, [], 'not fenced by its own stall');
});
