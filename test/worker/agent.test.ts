import t from 'tap';
import { decode, encode } from '../../shared/codec.ts';
import { NodeHeartbeat, NodeInfo } from '../../shared/schemas/index.ts';
import { Collector, actorSpec, control, exits, jobSpec, natsEnv, pretendHead, startTestAgent, waitActor } from './helpers.ts';

t.test('registers with the head and heartbeats its actors', async (t) => {
  const env = await natsEnv(t);
  const regs = pretendHead(env.nc, env.s);
  const beats = new Collector(env.nc, env.s.allNodeHeartbeats, (m) => decode(NodeHeartbeat, m.data));
  const agent = await startTestAgent(t, env, { nodeId: 'node-reg', slots: 3 });
  const info = decode(NodeInfo, await regs.next());
  t.equal(info.nodeId, 'node-reg');
  t.equal(info.slots, 3);
  t.equal(info.backend, 'cpu');
  t.same(await agent.registered, info, 'registered resolves with the NodeInfo sent');
  await beats.next((b) => b.ts > 0);
  const second = await beats.next((b) => b !== beats.items[0]);
  t.equal(second.nodeId, 'node-reg');
  t.same(second.actors, []);
  t.equal(second.draining, false);
  const third = await beats.next((b) => b !== beats.items[0] && b !== second);
  t.ok(typeof second.seq === 'number' && third.seq === second.seq + 1, `beats are numbered in order (${second.seq}, ${third.seq})`);
  regs.close();
  beats.close();
});

t.test('malformed control requests get FLO_VALIDATION naming the field; the agent keeps serving', async (t) => {
  const env = await natsEnv(t);
  await startTestAgent(t, env, { nodeId: 'node-bad' });
  const subj = env.s.nodeControl('node-bad');

  const missing = await control(env.nc, subj, { op: 'spawn' });
  t.equal(missing.ok, false);
  if (!missing.ok) {
    t.equal(missing.error.code, 'FLO_VALIDATION');
    t.match(missing.error.message, /actor/, 'names the missing field');
    t.ok(
      (missing.error.details as { path: string }[]).some((d) => d.path === 'actor'),
      'details carry the path',
    );
  }
  const badOp = await control(env.nc, subj, { op: 'explode' });
  t.equal(badOp.ok, false);
  if (!badOp.ok) {
    t.equal(badOp.error.code, 'FLO_VALIDATION');
    t.match(badOp.error.message, /op/);
  }
  const notJson = await control(env.nc, subj, new TextEncoder().encode('{nope'));
  t.equal(notJson.ok, false);
  if (!notJson.ok) t.equal(notJson.error.code, 'FLO_VALIDATION');
  const badId = await control(env.nc, subj, { op: 'stop', actorId: 'has.dots' });
  t.equal(badId.ok, false);
  if (!badId.ok) t.match(badId.error.message, /actorId/);
  const job = jobSpec({ trainer: { kind: 'logreg' } });
  const outside = await control(env.nc, subj, {
    op: 'spawn',
    actor: { ...actorSpec({ jobId: 'j', actorId: 'x', nodeId: 'node-bad', job }), rank: 1 },
  });
  t.match(
    outside,
    { ok: false, error: { code: 'FLO_VALIDATION', details: [{ path: 'actor.rank' }] } },
    'a rank outside the world is refused',
  );
  const unknown = await control(env.nc, subj, { op: 'stop', actorId: 'nobody' });
  t.equal(unknown.ok, false);
  if (!unknown.ok) t.equal(unknown.error.code, 'FLO_NOT_FOUND');

  const ping = await control(env.nc, subj, { op: 'ping' });
  t.equal(ping.ok, true, 'still answers a ping');
  if (ping.ok) t.equal(decode(NodeInfo, encode(ping.result)).nodeId, 'node-bad');

  const beats = new Collector(env.nc, env.s.allNodeHeartbeats, (m) => decode(NodeHeartbeat, m.data));
  t.match(await control(env.nc, subj, { op: 'drain' }), { ok: true, result: { draining: true } });
  t.equal((await beats.next((b) => b.nodeId === 'node-bad' && b.draining)).draining, true, 'heartbeats say draining');
  const refused = await control(env.nc, subj, { op: 'spawn', actor: actorSpec({ jobId: 'j', actorId: 'x', nodeId: 'node-bad', job }) });
  t.match(refused, { ok: false, error: { code: 'FLO_INVALID_STATE' } }, 'a draining node takes no actors');
  beats.close();
});

t.test('spawn -> actor runs -> exit reported as succeeded; bad input is fatal', async (t) => {
  const env = await natsEnv(t);
  const ex = exits(env.nc, env.s);
  await startTestAgent(t, env, { nodeId: 'node-sp', slots: 2 });
  const subj = env.s.nodeControl('node-sp');
  const job = jobSpec({ trainer: { kind: 'logreg', steps: 5, features: 4, batch: 16 }, checkpoint_every: 2 });
  const a1 = { op: 'spawn', actor: actorSpec({ jobId: 'job1', actorId: 'a1', nodeId: 'node-sp', job }) };
  const [r, twin] = await Promise.all([control(env.nc, subj, a1), control(env.nc, subj, a1)]);
  t.equal(r.ok, true, 'spawn accepted');
  if (r.ok) t.match(r.result, { actorId: 'a1', pid: Number });
  t.same(
    twin.ok && (twin.result as { pid: number }).pid,
    r.ok && (r.result as { pid: number }).pid,
    'a concurrent duplicate spawn gets the same process',
  );
  const again = await control(env.nc, subj, a1);
  t.match(again, { ok: true, result: { existing: true } }, 'spawning the same actor again is idempotent');
  const clash = await control(env.nc, subj, {
    op: 'spawn',
    actor: actorSpec({ jobId: 'job1', actorId: 'a1', generation: 5, nodeId: 'node-sp', job }),
  });
  t.match(clash, { ok: false, error: { code: 'FLO_CONFLICT' } }, 'the same id for another actor is a conflict');

  const yjob = jobSpec({ trainer: { kind: 'yolov5', data: '/nonexistent/data.yaml' } });
  const y = await control(env.nc, subj, { op: 'spawn', actor: actorSpec({ jobId: 'job2', actorId: 'y1', nodeId: 'node-sp', job: yjob }) });
  t.equal(y.ok, true);
  const full = await control(env.nc, subj, { op: 'spawn', actor: actorSpec({ jobId: 'job3', actorId: 'z1', nodeId: 'node-sp', job }) });
  t.match(full, { ok: false, error: { code: 'FLO_NO_CAPACITY' } }, 'no third actor on two slots');

  const e1 = await ex.next((e) => e.actorId === 'a1');
  t.match(e1, { nodeId: 'node-sp', jobId: 'job1', rank: 0, generation: 0, outcome: { kind: 'succeeded', exitCode: 0, signal: null } });
  const e2 = await ex.next((e) => e.actorId === 'y1');
  t.match(e2.outcome, { kind: 'fatal', exitCode: 3 });
  t.match(e2.outcome.message, /bad dataset/);
  ex.close();
});

t.test('SIGKILL of an actor is a retryable exit; stop is cancelled; actorCall status works', async (t) => {
  const env = await natsEnv(t);
  const ex = exits(env.nc, env.s);
  const beats = new Collector(env.nc, env.s.allNodeHeartbeats, (m) => decode(NodeHeartbeat, m.data));
  await startTestAgent(t, env, { nodeId: 'node-k', slots: 2 });
  const subj = env.s.nodeControl('node-k');
  const job = jobSpec({ trainer: { kind: 'logreg', steps: 100_000, features: 4, batch: 8, step_delay_ms: 200 } });
  const r = await control(env.nc, subj, { op: 'spawn', actor: actorSpec({ jobId: 'jk', actorId: 'victim', nodeId: 'node-k', job }) });
  const pid = r.ok ? (r.result as { pid: number }).pid : 0;
  t.ok(pid > 0, 'spawn returned a pid');
  await control(env.nc, subj, { op: 'spawn', actor: actorSpec({ jobId: 'jk2', actorId: 'polite', nodeId: 'node-k', job }) });
  await beats.next((b) => b.actors.some((a) => a.actorId === 'victim') && b.actors.some((a) => a.actorId === 'polite'));
  t.pass('heartbeat lists both actors');

  // Wait until the victim is training (status over actorCall), then kill it hard.
  await waitActor(env.nc, env.s, 'victim', (st) => st.state === 'running' && (st.step ?? 0) > 0);
  const badCall = JSON.parse((await env.nc.request(env.s.actorCall('victim'), encode({ method: 'fly' }), { timeout: 30_000 })).string());
  t.match(badCall, { ok: false, error: { code: 'FLO_VALIDATION' } }, 'unknown actor method refused');
  process.kill(pid, 'SIGKILL');
  const e = await ex.next((x) => x.actorId === 'victim');
  t.match(e.outcome, { kind: 'retryable', signal: 'SIGKILL', exitCode: null });

  const stop = await control(env.nc, subj, { op: 'stop', actorId: 'polite', reason: 'test says stop' });
  t.equal(stop.ok, true);
  const p = await ex.next((x) => x.actorId === 'polite');
  t.match(p.outcome, { kind: 'cancelled' });
  await beats.next((b) => b.actors.length === 0 && b.ts > p.outcome.message.length);
  t.pass('heartbeats list no actors after both exits');
  ex.close();
  beats.close();
});

t.test('jobAbort stops actors of older generations only', async (t) => {
  const env = await natsEnv(t);
  const ex = exits(env.nc, env.s);
  await startTestAgent(t, env, { nodeId: 'node-ab', slots: 2 });
  const subj = env.s.nodeControl('node-ab');
  const job = jobSpec({ trainer: { kind: 'logreg', steps: 100_000, features: 4, batch: 8, step_delay_ms: 200 } });
  await control(env.nc, subj, { op: 'spawn', actor: actorSpec({ jobId: 'jab', actorId: 'old', generation: 0, nodeId: 'node-ab', job }) });
  await control(env.nc, subj, { op: 'spawn', actor: actorSpec({ jobId: 'jab', actorId: 'new', generation: 1, nodeId: 'node-ab', job }) });
  await waitActor(env.nc, env.s, 'old', (x) => x.state === 'running');
  env.nc.publish(env.s.jobAbort('jab'), encode({ jobId: 'jab', generation: 1, reason: 'rank lost' }));
  // A replacement may be placed at once: a stopping actor does not hold its slot.
  await env.nc.flush();
  const repl = await control(env.nc, subj, { op: 'spawn', actor: actorSpec({ jobId: 'jab2', actorId: 'repl', nodeId: 'node-ab', job }) });
  t.equal(repl.ok, true, 'the slot of a stopping actor is free for its replacement');
  env.nc.publish(env.s.jobAbort('jab'), encode({ jobId: 'jab', generation: 'x' })); // malformed: ignored
  const e = await ex.next((x) => x.actorId === 'old');
  t.match(e.outcome, { kind: 'cancelled' });
  const stale = await control(env.nc, subj, {
    op: 'spawn',
    actor: actorSpec({ jobId: 'jab', actorId: 'straggler', generation: 0, nodeId: 'node-ab', job }),
  });
  t.match(stale, { ok: false, error: { code: 'FLO_STALE_GENERATION' } }, 'an aborted generation is not spawned again');
  const st = await waitActor(env.nc, env.s, 'new', (x) => x.state === 'running');
  t.equal(st.generation, 1, 'the newer generation still answers');
  t.notOk(
    ex.items.some((x) => x.actorId === 'new'),
    'the newer generation did not exit',
  );
  const full = await control(env.nc, subj, { op: 'spawn', actor: actorSpec({ jobId: 'other', actorId: 'third', nodeId: 'node-ab', job }) });
  t.match(full, { ok: false, error: { code: 'FLO_NO_CAPACITY' } }, 'two running actors fill two slots');
  await control(env.nc, subj, { op: 'stop', actorId: 'new' });
  await control(env.nc, subj, { op: 'stop', actorId: 'repl' });
  t.match((await ex.next((x) => x.actorId === 'new')).outcome, { kind: 'cancelled' });
  t.match((await ex.next((x) => x.actorId === 'repl')).outcome, { kind: 'cancelled' });
  ex.close();
});
