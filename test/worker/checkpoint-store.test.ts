import t from 'tap';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { subjects } from '../../shared/subjects.ts';
import { CheckpointStore, checkpointName, META_SHA256, type CheckpointEvent } from '../../worker/actor/index.ts';
import { jobStores, natsEnv } from './helpers.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

t.test('round trip, newest first, keeps the last K', async (t) => {
  const env = await natsEnv(t, 'ck');
  await jobStores(env, 'jobA', 'jobB');
  const events: CheckpointEvent[] = [];
  const store = await CheckpointStore.open(env.nc, env.prefix, 'jobA', { keep: 2, onEvent: (e) => events.push(e) });
  t.equal(await store.loadLatest(), null, 'no checkpoint yet');
  for (const step of [10, 20, 30]) await store.save(step, bytes(`state@${step}`), { generation: '0' });
  const other = await CheckpointStore.open(env.nc, env.prefix, 'jobB');
  await other.save(99, bytes('other job'));
  t.same(
    (await store.list()).map((c) => c.step),
    [30, 20],
    'only the newest two of this job are kept',
  );
  const ck = await store.loadLatest();
  t.ok(ck);
  t.equal(ck!.step, 30);
  t.equal(ck!.name, checkpointName('jobA', 30));
  t.equal(ck!.name, 'jobA/000000000030');
  t.equal(text(ck!.data), 'state@30');
  t.same(ck!.meta, { generation: '0' }, 'caller metadata comes back, flotilla-* keys do not');
  t.match(
    events.filter((e) => e.type === 'pruned'),
    [{ step: 10 }],
  );
  t.equal((await other.loadLatest())!.step, 99, 'jobs do not see each other');
  const buckets = (
    (await (await env.nc.request('$JS.API.STREAM.NAMES', new Uint8Array(0))).json()) as { streams: string[] }
  ).streams.filter((n) => n.includes('_ckpt_'));
  t.same(buckets.sort(), [`OBJ_${env.prefix}_ckpt_jobA`, `OBJ_${env.prefix}_ckpt_jobB`], 'each job has a stream of its own');
});

t.test('a job whose store the head has not made: a retryable error, and nothing is created', async (t) => {
  const env = await natsEnv(t, 'ck');
  const e = await CheckpointStore.open(env.nc, env.prefix, 'jobX').catch((x: unknown) => x);
  t.match(e, { code: 'FLO_UNAVAILABLE', message: /no checkpoint store .*_ckpt_jobX/ }, String(e));
  const names =
    ((await (await env.nc.request('$JS.API.STREAM.NAMES', new Uint8Array(0))).json()) as { streams: string[] | null }).streams ?? [];
  t.notOk(
    names.some((n) => n.endsWith('_ckpt_jobX')),
    'no stream was created',
  );
});

t.test('a corrupt newest checkpoint is detected and the previous one is used', async (t) => {
  const env = await natsEnv(t, 'ck');
  await jobStores(env, 'jobC');
  const events: CheckpointEvent[] = [];
  const store = await CheckpointStore.open(env.nc, env.prefix, 'jobC', { keep: 5, onEvent: (e) => events.push(e) });
  await store.save(1, bytes('good one'));
  await store.save(2, bytes('good two'));
  const newest = await store.save(3, bytes('good three'));

  // Corruption 1: different bytes under the newest name, the recorded digest left as it was
  // (the object store's own digest is then consistent with the bad bytes; only ours catches it).
  const os = await new Objm(env.nc).open(subjects(env.prefix).jobStore('jobC', 'ckpt'));
  const info3 = await os.info(checkpointName('jobC', 3));
  await os.putBlob({ name: checkpointName('jobC', 3), metadata: { ...info3!.metadata } }, bytes('evil three'));
  t.equal((await os.info(checkpointName('jobC', 3)))!.metadata![META_SHA256], newest.sha256, 'old digest kept on the bad object');

  let ck = await store.loadLatest();
  t.equal(ck!.step, 2, 'fell back to the previous checkpoint');
  t.equal(text(ck!.data), 'good two');
  t.match(
    events.filter((e) => e.type === 'skipped'),
    [{ step: 3, reason: /sha256/ }],
    'the bad one was reported',
  );

  // Corruption 2: the chunk data of step 2 is replaced in the stream behind the store's back,
  // so even the store's own digest check fails; and step 1 loses its recorded digest.
  const info2 = await os.info(checkpointName('jobC', 2));
  const js = jetstream(env.nc);
  const chunkSubj = `$O.${subjects(env.prefix).jobStore('jobC', 'ckpt')}.C.${info2!.nuid}`;
  const jsm = await js.jetstreamManager();
  const stream = `OBJ_${subjects(env.prefix).jobStore('jobC', 'ckpt')}`;
  const last = await jsm.streams.getMessage(stream, { last_by_subj: chunkSubj });
  await jsm.streams.deleteMessage(stream, last!.seq);
  await js.publish(chunkSubj, bytes('good twX'));
  ck = await store.loadLatest();
  t.equal(ck!.step, 1, 'a tampered chunk is skipped too');
  t.match(
    events.filter((e) => e.type === 'skipped').map((e) => e.step),
    [3, 3, 2],
  );

  const info1 = await os.info(checkpointName('jobC', 1));
  const md = { ...info1!.metadata };
  delete md[META_SHA256];
  await os.putBlob({ name: checkpointName('jobC', 1), metadata: md }, bytes('good one'));
  t.equal(await store.loadLatest(), null, 'no trustworthy checkpoint left: start fresh');
});

t.test(
  'the job record names a checkpoint the store does not list: retried, then a retryable failure, never a start from step 1',
  async (t) => {
    const env = await natsEnv(t, 'ck');
    await jobStores(env, 'jobE', 'jobF', 'jobG', 'jobH', 'jobI', 'jobJ');
    const listRetryMs = [20, 20, 20];
    // the store lists nothing (a JetStream that lost or has not recovered the object yet)
    const empty = await CheckpointStore.open(env.nc, env.prefix, 'jobE', { expectedStep: async () => 40, listRetryMs });
    await t.rejects(
      empty.loadLatest(),
      { code: 'FLO_UNAVAILABLE', retryable: true, message: /names checkpoint step 40, but the store lists no checkpoint/ },
      'no checkpoint listed: not null (which would mean step 1)',
    );
    // the store lists only an older one: not a silent rollback either
    const older = await CheckpointStore.open(env.nc, env.prefix, 'jobF', { expectedStep: async () => 40, listRetryMs });
    await older.save(30, bytes('state@30'));
    await t.rejects(older.loadLatest(), { code: 'FLO_UNAVAILABLE', message: /steps up to 30 only/ });
    // the store catches up while the actor lists again: it loads the named checkpoint
    let listed = 0;
    const late = await CheckpointStore.open(env.nc, env.prefix, 'jobG', {
      expectedStep: async () => 40,
      listRetryMs: [50, 50, 50, 50, 50, 50],
    });
    const writer = await CheckpointStore.open(env.nc, env.prefix, 'jobG');
    const slowList = late.list.bind(late);
    late.list = async () => {
      if (++listed === 2) await writer.save(40, bytes('state@40'));
      return slowList();
    };
    const ck = await late.loadLatest();
    t.equal(ck?.step, 40, "listed again until the record's checkpoint appeared");
    t.ok(listed >= 2, `listed ${listed} times`);
    // listed but unreadable (every copy bad): refused as well
    const bad = await CheckpointStore.open(env.nc, env.prefix, 'jobH', { expectedStep: async () => 7, listRetryMs });
    await bad.save(7, bytes('state@7'));
    const os = await new Objm(env.nc).open(subjects(env.prefix).jobStore('jobH', 'ckpt'));
    const info = await os.info(checkpointName('jobH', 7));
    await os.putBlob({ name: checkpointName('jobH', 7), metadata: { ...info!.metadata } }, bytes('evil@7'));
    await t.rejects(bad.loadLatest(), { code: 'FLO_UNAVAILABLE', message: /none of the 1 checkpoint\(s\) listed could be read/ });
    // no checkpoint named (a new job) or the record unknown: the old behaviour
    const fresh = await CheckpointStore.open(env.nc, env.prefix, 'jobI', { expectedStep: async () => null, listRetryMs });
    t.equal(await fresh.loadLatest(), null, 'a job with no checkpoint starts fresh');
    const unknown = await CheckpointStore.open(env.nc, env.prefix, 'jobJ', { expectedStep: async () => undefined, listRetryMs });
    t.equal(await unknown.loadLatest(), null, 'an unreadable record does not block the start (the fence decides about the actor)');
  },
);
