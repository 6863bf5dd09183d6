import t from 'tap';
import { headFixture } from './helpers/head.ts';
import { until } from './helpers/wait.ts';

const logreg = { kind: 'logreg', steps: 20 };

interface Sse {
  id: number;
  event: string;
  data: { type: string; state?: string; step?: number; generation: number };
}
function parseSse(body: string): Sse[] {
  return body
    .split('\n\n')
    .filter((b) => b.includes('data: '))
    .map((b) => {
      const f = Object.fromEntries(b.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      return { id: Number(f.id), event: f.event, data: JSON.parse(f.data) };
    });
}

t.test('submit -> placed -> running -> succeeded; events streamed and replayed from an offset', async (t) => {
  const { head, agent } = await headFixture(t);
  const a = await agent('n1', 2);
  const b = await agent('n2', 2);
  const r = await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { name: 'demo', workers: 2, trainer: logreg } });
  t.equal(r.statusCode, 201);
  const job = r.json();
  t.equal(job.state, 'pending');
  const get = async () => (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
  const running = await until('running', async () => {
    const j = await get();
    return j.state === 'running' && j;
  });
  t.equal(running.placement.length, 2);
  t.equal(new Set(running.placement.map((p: { nodeId: string }) => p.nodeId)).size, 1, 'both ranks packed on one node');
  const host = running.placement[0].nodeId === 'n1' ? a : b;
  await until('spawned', () => host.of(job.id).length === 2);
  t.same(
    host.of(job.id).map((s) => [s.rank, s.worldSize, s.generation]),
    [
      [0, 2, 0],
      [1, 2, 0],
    ],
  );
  // rank 0 reports steps and a checkpoint, like a trainer
  for (let step = 1; step <= 3; step++) {
    await host.event({ type: 'metric', jobId: job.id, ts: Date.now(), generation: 0, rank: 0, step, values: { loss: 1 / step } });
  }
  await host.event({ type: 'checkpoint', jobId: job.id, ts: Date.now(), generation: 0, step: 3, name: `${job.id}/000000000003` });
  await until('step 3 recorded', async () => {
    const j = await get();
    return j.step === 3 && j.checkpoint_step === 3;
  });
  for (const s of host.of(job.id)) host.exit(s.actorId, { kind: 'succeeded', exitCode: 0 });
  const done = await until('succeeded', async () => {
    const j = await get();
    return j.state === 'succeeded' && j;
  });
  t.equal(done.restarts, 0);
  t.same(done.placement, []);
  t.equal(done.metrics.loss, 1 / 3);

  const all = parseSse((await head.app.inject({ url: `/v1/jobs/${job.id}/events` })).body);
  t.same(
    all.filter((e) => e.event === 'state').map((e) => e.data.state),
    ['pending', 'running', 'succeeded'],
    'state changes in order',
  );
  t.same(
    all.filter((e) => e.event === 'metric').map((e) => e.data.step),
    [1, 2, 3],
  );
  t.ok(
    all.every((e, i) => i === 0 || e.id > all[i - 1].id),
    'ids are increasing stream offsets',
  );
  const offset = all.find((e) => e.event === 'metric' && e.data.step === 2)!.id;
  const replay = parseSse((await head.app.inject({ url: `/v1/jobs/${job.id}/events?from=${offset}` })).body);
  t.same(
    replay.map((e) => e.id),
    all.filter((e) => e.id >= offset).map((e) => e.id),
    'replay from an offset',
  );
  const resumed = parseSse(
    (await head.app.inject({ url: `/v1/jobs/${job.id}/events`, headers: { 'last-event-id': String(offset) } })).body,
  );
  t.equal(resumed[0].id, all.find((e) => e.id > offset)!.id, 'Last-Event-ID resumes after that event');
});

t.test('a live SSE follower sees a running job to its end', async (t) => {
  const { head, agent } = await headFixture(t);
  const a = await agent('n1', 1);
  const job = (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { trainer: logreg } })).json();
  await until('spawned', () => a.of(job.id).length === 1);
  const follower = head.app.inject({ url: `/v1/jobs/${job.id}/events` });
  await a.event({ type: 'log', jobId: job.id, ts: Date.now(), generation: 0, level: 'info', rank: 0, msg: 'hello' });
  a.exit(a.of(job.id)[0].actorId, { kind: 'succeeded' });
  const events = parseSse((await follower).body);
  t.same(
    events.map((e) => e.event),
    ['state', 'state', 'log', 'state'],
  );
  t.equal(events.at(-1)!.data.state, 'succeeded');
});

t.test('too large for the pool: waits, runs when a worker joins; cancel works pending and running', async (t) => {
  const { head, agent } = await headFixture(t);
  await agent('n1', 1);
  const post = async (p: object) => (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: p })).json();
  const get = async (id: string) => (await head.app.inject({ url: `/v1/jobs/${id}` })).json();
  const big = await post({ workers: 3, trainer: logreg });
  const small = await post({ workers: 1, trainer: logreg });
  await until('small placed past the big one (the big one cannot fit the pool)', async () => (await get(small.id)).state === 'running');
  t.equal((await get(big.id)).state, 'pending');
  const n2 = await agent('n2', 2);
  const n3 = await agent('n3', 1);
  const placed = await until('big placed once capacity joined', async () => {
    const j = await get(big.id);
    return j.state === 'running' && j;
  });
  t.same(placed.placement.map((p: { nodeId: string }) => p.nodeId).sort(), ['n2', 'n2', 'n3'], 'packed: 2 ranks on n2, 1 on n3');
  await until('spawned', () => n2.of(big.id).length === 2 && n3.of(big.id).length === 1);
  const c = await head.app.inject({ method: 'POST', url: `/v1/jobs/${big.id}/cancel` });
  t.equal(c.statusCode, 200);
  t.equal(c.json().state, 'cancelled');
  await until('actors of the cancelled job aborted', () => n2.of(big.id).length === 0 && n3.of(big.id).length === 0);
  const pend = await post({ workers: 9, trainer: logreg });
  t.equal((await head.app.inject({ method: 'POST', url: `/v1/jobs/${pend.id}/cancel` })).json().state, 'cancelled', 'cancel a pending job');
  const again = await head.app.inject({ method: 'POST', url: `/v1/jobs/${pend.id}/cancel` });
  t.equal(again.statusCode, 409);
  t.equal(again.json().error.code, 'FLO_INVALID_STATE');
  const list = (await head.app.inject({ url: '/v1/jobs?state=cancelled' })).json();
  t.same(list.jobs.map((j: { id: string }) => j.id).sort(), [big.id, pend.id].sort());
});

t.test('PATCH changes the worker count of a running job (new generation at the new size)', async (t) => {
  const { head, agent } = await headFixture(t);
  const a = await agent('n1', 4);
  const job = (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 1, trainer: logreg } })).json();
  await until('1 rank spawned', () => a.of(job.id).length === 1);
  const p = await head.app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, payload: { workers: 3 } });
  t.equal(p.statusCode, 200);
  t.equal(p.json().spec.workers, 3);
  await until('3 ranks of generation 1', () => a.of(job.id).length === 3 && a.of(job.id).every((s) => s.generation === 1));
  t.same(
    a.of(job.id).map((s) => s.worldSize),
    [3, 3, 3],
  );
  const j = (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
  t.equal(j.restarts, 0, 'a rescale is not a restart');
  t.equal(j.generation, 1);
});

t.test('a dead node: the job recovers on other capacity; stale messages are ignored', async (t) => {
  const { head, agent } = await headFixture(t);
  const a = await agent('n1', 2);
  const job = (
    await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 2, max_restarts: 2, trainer: logreg } })
  ).json();
  await until('spawned on n1', () => a.of(job.id).length === 2);
  const b = await agent('n2', 2);
  const old = a.of(job.id);
  a.silent = true; // n1 stops heartbeating: dead after deadAfterMs
  await until('respawned on n2 at generation 1', () => b.of(job.id).length === 2 && b.of(job.id).every((s) => s.generation === 1));
  const j = (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
  t.equal(j.state, 'running');
  t.equal(j.restarts, 1);
  t.equal(j.generation, 1);
  // a straggler of generation 0 reports success and a step: both ignored
  a.silent = false;
  for (const s of old) a.exit(s.actorId, { kind: 'succeeded' });
  await a.event({ type: 'metric', jobId: job.id, ts: Date.now(), generation: 0, rank: 0, step: 999, values: {} });
  await b.event({ type: 'metric', jobId: job.id, ts: Date.now(), generation: 1, rank: 0, step: 5, values: {} });
  await until('generation-1 step recorded', async () => (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json().step === 5);
  t.equal((await head.app.inject({ url: `/v1/jobs/${job.id}` })).json().state, 'running', 'stale successes did not end the job');
  const ev = parseSse((await head.app.inject({ url: `/v1/jobs/${job.id}/events?follow=false` })).body);
  t.same(
    ev.filter((e) => e.event === 'state').map((e) => e.data.state),
    ['pending', 'running', 'recovering', 'running'],
  );
});

t.test('a retryable actor failure restarts up to max_restarts, then the job fails', async (t) => {
  const { head, agent } = await headFixture(t);
  const a = await agent('n1', 1);
  const job = (
    await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 1, max_restarts: 1, trainer: logreg } })
  ).json();
  await until('gen 0', () => a.of(job.id)[0]?.generation === 0);
  a.exit(a.of(job.id)[0].actorId, { kind: 'retryable', signal: 'SIGKILL' });
  await until('gen 1', () => a.of(job.id)[0]?.generation === 1);
  a.exit(a.of(job.id)[0].actorId, { kind: 'retryable', signal: 'SIGKILL' });
  const j = await until('failed', async () => {
    const x = (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
    return x.state === 'failed' && x;
  });
  t.equal(j.restarts, 1);
  t.match(j.message, 'gave up');
});
