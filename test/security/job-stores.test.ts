/**
 * Per-job object stores against a real head on a real nats-server with credentials: the head
 * makes a job's checkpoint and artifact buckets before it spawns the job's actors; an actor's
 * credential (as the head minted it) may save, list and load its own job's checkpoints and
 * store its artifacts, and is refused by the server when it puts, deletes, purges or creates
 * objects in another job's buckets or creates a bucket at all. When a job ends the head seals
 * its buckets: artifacts stay downloadable, nobody can change them.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { headFixture } from '../head/helpers/head.ts';
import { until } from '../head/helpers/wait.ts';
import { credsJwt, natsOptions } from '../../shared/nats-connect.ts';
import { actorPermissions } from '../../head/auth/nats-permissions.ts';
import { subjects } from '../../shared/subjects.ts';
import { CheckpointStore, checkpointName } from '../../worker/actor/checkpoint-store.ts';
import { getArtifact, putArtifact } from '../../worker/actor/artifacts.ts';
import { publishVerdict } from './helpers/verdict.ts';

const logreg = { kind: 'logreg', steps: 100_000, step_delay_ms: 0 };
const bytes = (s: string) => new TextEncoder().encode(s);

t.test("an actor credential uses its own job's buckets and no other job's", async (t) => {
  const { head, nats, prefix, agent } = await headFixture(t);
  const s = subjects(prefix);
  const a = await agent('n1', 2);
  const submit = async () =>
    (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 1, trainer: logreg } })).json() as { id: string };
  const jobA = await submit();
  const jobB = await submit();
  await until('both jobs placed on n1', () => (a.credsOf(jobA.id) && a.credsOf(jobB.id)) || undefined);

  const headNc = await connect(nats.options());
  t.teardown(() => headNc.close());
  const jsm = await jetstreamManager(headNc);
  for (const id of [jobA.id, jobB.id]) {
    for (const kind of ['ckpt', 'art'] as const) {
      const info = await jsm.streams.info(`OBJ_${s.jobStore(id, kind)}`);
      t.equal(info.config.sealed, false, `the head made ${s.jobStore(id, kind)} before the spawn`);
    }
  }
  // job B's checkpoint and artifact, written as its own actor would (here by the head)
  const bCkpt = await new Objm(jetstream(headNc)).open(s.jobStore(jobB.id, 'ckpt'));
  await bCkpt.putBlob({ name: checkpointName(jobB.id, 10) }, bytes('B at 10'));
  const bArt = await new Objm(jetstream(headNc)).open(s.jobStore(jobB.id, 'art'));
  await bArt.putBlob({ name: `${jobB.id}/weights.bin` }, bytes('B weights'));

  const actorA = await connect(natsOptions(nats.url, a.credsOf(jobA.id)!, { reconnect: false }));
  t.teardown(() => actorA.close());

  // its own job: checkpoint save / list / load, artifact upload and read back
  const own = await CheckpointStore.open(actorA, prefix, jobA.id, { keep: 2 });
  for (const step of [1, 2, 3]) await own.save(step, bytes(`A at ${step}`));
  t.same(
    (await own.list()).map((c) => c.step),
    [3, 2],
    'own checkpoints saved, listed and pruned (delete in its own bucket)',
  );
  t.equal(new TextDecoder().decode((await own.loadLatest())!.data), 'A at 3', 'own checkpoint loaded');
  t.equal(await putArtifact(actorA, prefix, jobA.id, 'results.csv', bytes('a,b\n1,2\n')), 8, 'own artifact stored');
  t.equal(new TextDecoder().decode((await getArtifact(actorA, prefix, jobA.id, 'results.csv'))!), 'a,b\n1,2\n', 'and read back');

  // the control: the same probe on its own bucket is accepted (so a refusal below is the permission, not the probe)
  t.equal(
    await publishVerdict(actorA, `$O.${s.jobStore(jobA.id, 'ckpt')}.C.probe`),
    'accepted',
    'a chunk publish into its own bucket is accepted',
  );
  // another job's buckets, through the raw subjects a hostile actor would use
  for (const kind of ['ckpt', 'art'] as const) {
    const b = s.jobStore(jobB.id, kind);
    const name = Buffer.from(kind === 'ckpt' ? checkpointName(jobB.id, 10) : `${jobB.id}/weights.bin`).toString('base64url');
    t.match(
      await publishVerdict(actorA, `$O.${b}.C.forged`),
      /Permissions Violation/,
      `${kind}: a chunk put into job B's bucket is refused`,
    );
    t.match(
      await publishVerdict(actorA, `$O.${b}.M.${name}`),
      /Permissions Violation/,
      `${kind}: a meta put or delete marker for job B's object is refused`,
    );
    t.match(
      await publishVerdict(actorA, `$JS.API.STREAM.PURGE.OBJ_${b}`, bytes('{}')),
      /Permissions Violation/,
      `${kind}: purging job B's bucket is refused`,
    );
    t.match(
      await publishVerdict(actorA, `$JS.API.STREAM.MSG.DELETE.OBJ_${b}`, bytes('{"seq":1}')),
      /Permissions Violation/,
      `${kind}: deleting a message of job B's bucket is refused`,
    );
    t.match(
      await publishVerdict(actorA, `$JS.API.STREAM.DELETE.OBJ_${b}`),
      /Permissions Violation/,
      `${kind}: deleting job B's bucket is refused`,
    );
  }
  // creating buckets: a new one, its own job's, and one named like a future job's
  for (const bucket of [s.jobStore('jEvil', 'ckpt'), s.jobStore(jobA.id, 'art'), `${prefix}_ckpt`]) {
    t.match(
      await publishVerdict(
        actorA,
        `$JS.API.STREAM.CREATE.OBJ_${bucket}`,
        bytes(JSON.stringify({ name: `OBJ_${bucket}`, subjects: [`$O.${bucket}.>`] })),
      ),
      /Permissions Violation/,
      `creating stream OBJ_${bucket} is refused`,
    );
  }
  // and through the object store client: a refused request either fails with the violation or,
  // when the server reports it for the domain-mapped subject, times out (and is retried until it gives up)
  await t.rejects(
    new Objm(jetstream(actorA)).create(s.jobStore('jEvil2', 'art')),
    /Permissions Violation|permission|timeout/i,
    'the object store client cannot create a bucket',
  );
  const viaClient = new Objm(jetstream(actorA));
  await t.rejects(
    viaClient.open(s.jobStore(jobB.id, 'ckpt')).then((os) => os.delete(checkpointName(jobB.id, 10))),
    /Permissions Violation|permission|timeout/i,
    "the object store client cannot open or delete in job B's bucket",
  );
  await t.rejects(
    viaClient.open(s.jobStore(jobB.id, 'art'), false).then((os) => os.putBlob({ name: `${jobB.id}/weights.bin` }, bytes('forged'))),
    /Permissions Violation|permission|timeout/i,
    "nor put into job B's artifacts",
  );
  await t.rejects(
    CheckpointStore.open(actorA, prefix, jobB.id),
    /Permissions Violation|permission|timeout/i,
    "nor open job B's checkpoints the way an actor does",
  );

  // job B is as it was
  t.equal(new TextDecoder().decode((await bCkpt.getBlob(checkpointName(jobB.id, 10)))!), 'B at 10', "job B's checkpoint is untouched");
  t.equal(new TextDecoder().decode((await bArt.getBlob(`${jobB.id}/weights.bin`))!), 'B weights', "job B's artifact is untouched");
  const names = (await jsm.streams.names().next()).filter((n) => n.includes('jEvil'));
  t.same(names, [], 'no bucket was created');

  // job A ends: its buckets are sealed, the artifact stays downloadable, the actor's creds can change nothing
  const c = await head.app.inject({ method: 'POST', url: `/v1/jobs/${jobA.id}/cancel` });
  t.equal(c.statusCode, 200, 'job A cancelled');
  await until(
    "job A's buckets sealed",
    async () =>
      (await jsm.streams.info(`OBJ_${s.jobStore(jobA.id, 'art')}`)).config.sealed &&
      (await jsm.streams.info(`OBJ_${s.jobStore(jobA.id, 'ckpt')}`)).config.sealed,
  );
  t.pass("both of job A's buckets are sealed after its end");
  const dl = await head.app.inject({ url: `/v1/jobs/${jobA.id}/artifacts/results.csv` });
  t.equal(dl.statusCode, 200, 'the artifact of the ended job is still served');
  t.equal(dl.body, 'a,b\n1,2\n');
  t.same((await head.app.inject({ url: `/v1/jobs/${jobA.id}/artifacts` })).json().artifacts, [{ name: 'results.csv', bytes: 8 }]);
  await t.rejects(
    putArtifact(actorA, prefix, jobA.id, 'results.csv', bytes('rewritten')),
    /sealed/i,
    "an ended job's artifact cannot be replaced",
  );
  await t.rejects(own.save(4, bytes('A at 4')), 'nor a checkpoint added');
  t.same(
    (await own.list()).map((c) => c.step),
    [3, 2],
    'the checkpoints stay as the job left them',
  );
  t.equal(
    new TextDecoder().decode((await getArtifact(actorA, prefix, jobA.id, 'results.csv'))!),
    'a,b\n1,2\n',
    'the artifact is unchanged',
  );
});

t.test("a queued job's stores are made while it waits; one cancelled in the queue has them sealed", async (t) => {
  const { head, nats, prefix, agent } = await headFixture(t);
  const s = subjects(prefix);
  const a = await agent('n1', 1);
  const submit = async () =>
    (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 1, trainer: logreg } })).json() as { id: string };
  const running = await submit();
  await until('the first job placed', () => a.credsOf(running.id) || undefined);
  const queued = await submit();
  const headNc = await connect(nats.options());
  t.teardown(() => headNc.close());
  const jsm = await jetstreamManager(headNc);
  const info = (kind: 'ckpt' | 'art') => jsm.streams.info(`OBJ_${s.jobStore(queued.id, kind)}`).catch(() => null);
  await until("the queued job's stores made ahead", async () => ((await info('ckpt')) && (await info('art'))) || undefined);
  t.equal(head.ctl.jobs.get(queued.id)!.state, 'pending', 'made while the job still waits for a slot');
  t.notOk(a.credsOf(queued.id), 'and before any actor of it exists');
  t.equal((await head.app.inject({ method: 'POST', url: `/v1/jobs/${queued.id}/cancel` })).statusCode, 200, 'cancelled in the queue');
  await until('its stores sealed', async () => ((await info('ckpt'))?.config.sealed && (await info('art'))?.config.sealed) || undefined);
  t.pass('a job that never ran leaves no open bucket behind');
});

t.test("an actor's creds fit in a CONNECT line (nats-server max_control_line, 4 KiB by default)", async (t) => {
  const { nats } = await headFixture(t);
  // a head-made job id (j + base36 time + 6 hex) and a 16-character prefix; the connection names itself as an actor does
  const job = 'jmxa4m3ky23b752';
  for (const prefix of ['flotilla', 'abcdefghijklmnop']) {
    const creds = await nats.auth!.mint(`actor:${job}-g10-r10`, actorPermissions(subjects(prefix), job, `${job}-g10-r10`));
    const r = await connect(
      natsOptions(nats.url, creds, { timeout: 10_000, reconnect: false, name: `flotilla-actor-${job}-g10-r10` }),
    ).then(
      async (nc) => {
        await nc.close();
        return 'connected';
      },
      (e: Error) => e.message,
    );
    t.equal(r, 'connected', `prefix '${prefix}': an actor JWT of ${credsJwt(creds).length} bytes is accepted`);
  }
});
