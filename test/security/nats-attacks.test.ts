/**
 * The control-plane attacks of issue 10, each against a real head on a real nats-server with
 * credentials: anonymous clients, and a worker credential used to speak for another node, to
 * fake an exit, a success at step 0, an abort from the future, a drain or a spawn, or to rewrite
 * the job record in KV. Each must be refused and leave the job running as it was.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { headFixture } from '../head/helpers/head.ts';
import { publishVerdict } from './helpers/verdict.ts';
import { until } from '../head/helpers/wait.ts';
import { subjects } from '../../shared/subjects.ts';
import { encode, decode } from '../../shared/codec.ts';
import { ControlReply } from '../../shared/schemas/index.ts';
import { workerPermissions, actorPermissions } from '../../head/auth/nats-permissions.ts';

const logreg = { kind: 'logreg', steps: 1000, step_delay_ms: 0 };

t.test('anonymous clients are refused by the server', async (t) => {
  const { nats } = await headFixture(t);
  await t.rejects(connect({ servers: nats.url, reconnect: false }), /Authorization Violation/i);
});

t.test('a worker credential cannot speak for another node, fake exits, abort, drain, spawn or write KV', async (t) => {
  const { head, nats, prefix, agent } = await headFixture(t);
  const s = subjects(prefix);
  const a = await agent('n1', 2);
  await agent('evil', 1); // one slot, so the 2-rank gang packs on n1. A registered but hostile node: its credential is genuine, its messages are not
  const job = (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 2, trainer: logreg } })).json();
  await until('placed', () => a.of(job.id).length === 2 || undefined);
  const before = head.ctl.jobs.get(job.id)!;
  t.equal(before.state, 'running');
  const host = before.placement[0].nodeId;
  t.equal(host, 'n1', 'n1 runs both ranks');

  const evil = await connect(nats.options(await nats.auth!.mint('worker:evil:x', workerPermissions(s, 'evil'))));
  t.teardown(() => evil.close());
  const victim = before.placement[0];
  const fakeExit = (nodeId: string, kind: string) => ({
    nodeId,
    actorId: victim.actorId,
    jobId: job.id,
    generation: before.generation,
    rank: victim.rank,
    outcome: { kind, message: 'forged' },
  });

  // fake exits on the victim's subject, on the head's, and on its own subject but naming the victim
  t.match(
    await publishVerdict(evil, s.actorExit('n1'), fakeExit('n1', 'fatal')),
    /Permissions Violation/,
    "exit on another node's subject: refused by the server",
  );
  t.match(
    await publishVerdict(evil, s.jobAbort(job.id), { jobId: job.id, generation: 1000, reason: 'x' }),
    /Permissions Violation/,
    "abort: the head's alone",
  );
  t.match(await publishVerdict(evil, s.nodeControl('n1'), { op: 'drain' }), /Permissions Violation/, 'drain of another node: refused');
  t.match(
    await publishVerdict(evil, s.nodeLeaving('n1'), { nodeId: 'n1', ts: Date.now(), slots: 2, actors: [], draining: true }),
    /Permissions Violation/,
    'leaving for another node: refused',
  );
  t.match(
    await publishVerdict(evil, s.nodeHeartbeat('n1'), { nodeId: 'n1', ts: Date.now(), slots: 2, actors: [], draining: false }),
    /Permissions Violation/,
    'heartbeat for another node: refused',
  );
  t.match(
    await publishVerdict(evil, `$KV.${s.jobsBucket}.${job.id}`, { ...before, metrics: { map50: 0.99 } }),
    /Permissions Violation/,
    'KV write to the jobs bucket: refused',
  );
  t.match(
    await publishVerdict(evil, s.jobEvents(job.id), {
      type: 'metric',
      jobId: job.id,
      ts: 0,
      generation: 0,
      rank: 0,
      step: 1000,
      values: {},
    }),
    /Permissions Violation/,
    "job events: an actor's, not a node's",
  );
  await t.rejects(
    new Kvm(evil).open(s.jobsBucket).then((kv) => kv.put(job.id, JSON.stringify({ ...before, state: 'succeeded' }))),
    /Permissions Violation|permission/i,
    'kv.put through the KV client: refused',
  );
  // messages it may send, whose bodies lie about who speaks
  evil.publish(s.actorExit('evil'), encode(fakeExit('n1', 'succeeded')));
  evil.publish(s.actorExit('evil'), encode(fakeExit('evil', 'fatal')));
  evil.publish(s.nodeLeaving('evil'), encode({ nodeId: 'n1', ts: Date.now(), slots: 2, actors: [], draining: true }));
  const reg = decode(
    ControlReply,
    (await evil.request(s.nodeRegister('evil'), encode({ ...a.info, nodeId: 'n1', slots: 64 }), { timeout: 5000 })).data,
  );
  t.match(reg, { ok: false, error: { code: 'FLO_FORBIDDEN' } }, 'registering as another node on its own subject: refused by the head');
  await evil.flush();

  // the job is unharmed: same generation, still running on n1, KV record untouched; n1 not draining
  await head.ctl.tick();
  await head.ctl.tick();
  const after = head.ctl.jobs.get(job.id)!;
  t.equal(after.state, 'running', 'still running');
  t.equal(after.generation, before.generation, 'no generation bump');
  t.same(after.placement, before.placement, 'same placement');
  t.equal(after.metrics.map50, undefined, 'no forged metric');
  t.notOk(head.ctl.nodes.get('n1')?.record.draining, 'n1 is not draining');
  t.equal(head.ctl.nodes.get('n1')?.record.slots, 2, 'n1 keeps its own slot count');
});

t.test('an actor credential reaches only its own job; a success at step 0 does not finish the job', async (t) => {
  const { head, nats, prefix, agent } = await headFixture(t);
  const s = subjects(prefix);
  const a = await agent('n1', 2);
  const other = (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 1, trainer: logreg } })).json();
  const job = (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 1, trainer: logreg } })).json();
  await until('placed', () => (a.of(job.id).length === 1 && a.of(other.id).length === 1) || undefined);
  const actor = a.of(job.id)[0];
  const an = await connect(nats.options(await nats.auth!.mint(`actor:${actor.actorId}`, actorPermissions(s, job.id, actor.actorId))));
  t.teardown(() => an.close());
  t.match(
    await publishVerdict(an, s.jobEvents(other.id), {
      type: 'metric',
      jobId: other.id,
      ts: 0,
      generation: 0,
      rank: 0,
      step: 1,
      values: {},
    }),
    /Permissions Violation/,
    "another job's events: refused",
  );
  t.match(await publishVerdict(an, `${s.collectiveJob(other.id)}.g0.x`, {}), /Permissions Violation/, "another job's collective: refused");
  t.match(await publishVerdict(an, s.actorExit('n1'), { nodeId: 'n1' }), /Permissions Violation/, "exits are the agent's");
  t.match(await publishVerdict(an, `$KV.${s.jobsBucket}.${job.id}`, {}), /Permissions Violation/, 'KV: refused');

  // the hosting node reports success at step 0 (the "succeeded, untrained" attack)
  a.exit(actor.actorId, { kind: 'succeeded', step: 0 });
  const rec = await until('generation ended', () => {
    const j = head.ctl.jobs.get(job.id)!;
    return j.generation > 0 && j;
  });
  t.not(rec.state, 'succeeded', `not succeeded: ${rec.message}`);
  t.match(rec.message, /not the final step 1000/);
  t.equal(head.ctl.jobs.get(other.id)!.state, 'running', 'the other job is unharmed');
});

t.test("an ended job's actor creds cannot rewrite its record: progress is taken for a short while after the end only", async (t) => {
  const { head, nats, prefix, agent } = await headFixture(t, { lateProgressMs: 300 });
  const s = subjects(prefix);
  const a = await agent('n1', 1);
  const job = (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 1, trainer: logreg } })).json();
  await until('placed', () => a.of(job.id).length === 1 || undefined);
  const actor = a.of(job.id)[0];
  // creds as the head minted them for this actor, kept by its node past the job's end
  const an = await connect(nats.options(a.credsOf(job.id)!));
  t.teardown(() => an.close());
  a.exit(actor.actorId, { kind: 'succeeded', step: 1000 });
  const done = await until('succeeded', () => {
    const j = head.ctl.jobs.get(job.id)!;
    return j.state === 'succeeded' && j;
  });
  await new Promise((r) => setTimeout(r, 600)); // past lateProgressMs
  an.publish(
    s.jobEvents(job.id),
    encode({
      type: 'metric',
      jobId: job.id,
      ts: Date.now(),
      generation: done.generation,
      rank: 0,
      step: 1000,
      values: { loss: 123, map50: 0.99 },
    }),
  );
  await an.flush();
  const headNc = await connect(nats.options());
  t.teardown(() => headNc.close());
  const jsm = await jetstreamManager(headNc);
  const last = (await jsm.streams.info(s.eventsStream)).state.last_seq;
  await until(
    'the head read the forged event',
    async () => (await jsm.consumers.info(s.eventsStream, 'head_progress')).ack_floor.stream_seq >= last || undefined,
  );
  await new Promise((r) => setTimeout(r, 500)); // several ticks (100 ms): a taken event would be written by now
  const rec = head.ctl.jobs.get(job.id)!;
  t.equal(rec.metrics.map50, undefined, 'no forged mAP in the record');
  t.not(rec.metrics.loss, 123, 'nor a forged loss');
  t.equal(rec.state, 'succeeded', 'the job stays as it ended');
});
