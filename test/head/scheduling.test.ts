/** Scheduling policies against a real nats-server with scripted agents: priorities, elastic shrink, draining nodes, artifacts. */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { subjects } from '../../shared/subjects.ts';
import { encode } from '../../shared/codec.ts';
import { headFixture } from './helpers/head.ts';
import { until } from './helpers/wait.ts';

const logreg = { kind: 'logreg', steps: 10 };

t.test('higher priority first, FIFO among equals', async (t) => {
  const { head, agent } = await headFixture(t);
  const post = async (p: object) => (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: p })).json();
  const first = await post({ trainer: logreg });
  const a = await agent('n1', 1);
  await until('first running', () => a.of(first.id).length === 1);
  const low1 = await post({ trainer: logreg, name: 'low1' });
  const low2 = await post({ trainer: logreg, name: 'low2' });
  const high = await post({ trainer: logreg, priority: 10, name: 'high' });
  const order: string[] = [];
  for (let i = 0; i < 4; i++) {
    const running = await until('one actor', () => a.actors.size === 1 && [...a.actors.values()][0]);
    order.push(running.jobId);
    a.exit(running.actorId, { kind: 'succeeded' });
    await until('slot freed', () => a.actors.size === 0 || [...a.actors.values()][0].jobId !== running.jobId);
  }
  t.same(order, [first.id, high.id, low1.id, low2.id]);
});

t.test('elastic job shrinks to min_workers on failure instead of waiting (recovery checkpoint: a new gang)', async (t) => {
  const { head, agent } = await headFixture(t);
  const a = await agent('n1', 2);
  const b = await agent('n2', 2);
  // live recovery keeps the survivors instead (test/e2e/live-recovery.test.ts)
  const job = (
    await head.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { workers: 4, min_workers: 2, recovery: 'checkpoint', trainer: logreg },
    })
  ).json();
  await until('4 ranks', () => a.of(job.id).length + b.of(job.id).length === 4);
  b.silent = true;
  await until('2 ranks of generation 1 on n1', () => a.of(job.id).length === 2 && a.of(job.id).every((s) => s.generation === 1));
  t.same(
    a.of(job.id).map((s) => s.worldSize),
    [2, 2],
    'world size 2',
  );
  const j = (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
  t.equal(j.placement.length, 2);
  t.equal(j.spec.workers, 4, 'the wanted size is kept');
});

t.test('a draining node: its actors move to other nodes, nothing new lands there', async (t) => {
  const { head, agent, nats, prefix } = await headFixture(t);
  const a = await agent('n1', 2);
  const job = (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 2, trainer: logreg } })).json();
  await until('on n1', () => a.of(job.id).length === 2);
  const b = await agent('n2', 2);
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  nc.publish(subjects(prefix).nodeLeaving('n1'), encode({ nodeId: 'n1', ts: Date.now(), slots: 2, actors: [], draining: true }));
  await until('moved to n2', () => b.of(job.id).length === 2 && a.of(job.id).length === 0);
  const j = (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
  t.equal(j.restarts, 0, 'a drain is not a failure');
  t.equal(j.generation, 1);
  const w = (await head.app.inject({ url: '/v1/workers' })).json().workers;
  t.ok(w.find((x: { nodeId: string; draining: boolean }) => x.nodeId === 'n1').draining, 'n1 is draining');
});

t.test('artifacts are listed and downloaded from the object store', async (t) => {
  const { head, nats, prefix } = await headFixture(t);
  const job = (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { trainer: logreg } })).json();
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const none = (await head.app.inject({ url: `/v1/jobs/${job.id}/artifacts` })).json();
  t.same(none.artifacts, [], 'a job never placed has no artifact store: an empty list');
  // the job's own store, as the head makes it when it places the job
  const os = await new Objm(jetstream(nc)).create(subjects(prefix).jobStore(job.id, 'art'));
  const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
  await os.putBlob({ name: `${job.id}/weights.bin` }, bytes);
  const list = (await head.app.inject({ url: `/v1/jobs/${job.id}/artifacts` })).json();
  t.same(list.artifacts, [{ name: 'weights.bin', bytes: bytes.length }]);
  const r = await head.app.inject({ url: `/v1/jobs/${job.id}/artifacts/weights.bin` });
  t.equal(r.statusCode, 200);
  t.equal(r.rawPayload.length, bytes.length);
  t.ok(Buffer.from(bytes).equals(r.rawPayload), 'same bytes');
  const missing = await head.app.inject({ url: `/v1/jobs/${job.id}/artifacts/nope.bin` });
  t.equal(missing.statusCode, 404);
});

t.test('a job bigger than the whole pool says how many slots it waits for, and runs once they come', async (t) => {
  const { head, agent } = await headFixture(t);
  const post = async (p: object) => (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: p })).json();
  const a = await agent('n1', 1);
  const big = await post({ workers: 3, trainer: logreg });
  const small = await post({ trainer: { ...logreg, steps: 100_000 } });
  await until('the small job runs', () => a.of(small.id).length === 1 || undefined);
  const waiting = await until(
    'the big job explains its wait',
    () => {
      const j = head.ctl.jobs.get(big.id)!;
      return /^waiting for 3 slot\(s\)/.test(j.message ?? '') && j;
    },
    20_000,
  );
  t.match(waiting.message, /the pool has 1 on 1 node\(s\); add workers or scale the job down/, `says what to do: ${waiting.message}`);
  t.equal(waiting.state, 'pending', 'and still waits (more nodes may join)');
  const b = await agent('n2', 3);
  await until('the big job placed', () => b.of(big.id).length === 3 || undefined);
  t.equal(head.ctl.jobs.get(big.id)!.state, 'running', 'it runs once the pool has the slots');
});
