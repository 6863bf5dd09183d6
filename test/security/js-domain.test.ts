/**
 * The JetStream domain every client asks on (shared/js-domain.ts): parsing, the actor
 * permissions it yields, and on a real server (the kit's, which sets `domain: flotilla` like
 * every server Flotilla starts) an actor of the longest prefix doing its JetStream work in the
 * domain: its JWT no longer fits nats-server's default 4 KiB control line, which the servers
 * raise (a connect that timed out before).
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { startNatsServer } from '../kit/nats-server.ts';
import { jsApiPrefix, jsClient, jsDomain, DEFAULT_JS_DOMAIN } from '../../shared/js-domain.ts';
import { actorPermissions, withJsApi, leafPermissions } from '../../head/auth/nats-permissions.ts';
import { credsJwt } from '../../shared/nats-connect.ts';
import { ensureKv, ensureObjectStore, jsManager } from '../../shared/js-assets.ts';
import { subjects } from '../../shared/subjects.ts';
import { FlotillaError } from '../../shared/errors.ts';

t.test('jsDomain: default, none, a name, and a bad one', async (t) => {
  t.equal(jsDomain({}), DEFAULT_JS_DOMAIN, 'default flotilla');
  t.equal(jsDomain({ FLOTILLA_JS_DOMAIN: 'none' }), undefined, "'none': no domain");
  t.equal(jsDomain({ FLOTILLA_JS_DOMAIN: '' }), undefined, 'empty: no domain');
  t.equal(jsDomain({ FLOTILLA_JS_DOMAIN: 'hub-1' }), 'hub-1');
  for (const bad of ['a.b', '>', 'a b']) {
    let err: unknown;
    try {
      jsDomain({ FLOTILLA_JS_DOMAIN: bad });
    } catch (e) {
      err = e;
    }
    t.ok(
      err instanceof FlotillaError && err.code === 'FLO_CONFIG' && err.message.includes(`'${bad}'`),
      `'${bad}' is FLO_CONFIG naming it (${String(err)})`,
    );
  }
  t.equal(jsApiPrefix('flotilla'), '$JS.flotilla.API');
  t.equal(jsApiPrefix(undefined), '$JS.API');
});

t.test('actor permissions name the API in the domain and as the server maps it; acks and flow control stay plain', async (t) => {
  const s = subjects('p');
  const inD = actorPermissions(s, 'j', 'a', jsApiPrefix('flotilla')).pub!.allow!;
  const plain = actorPermissions(s, 'j', 'a', jsApiPrefix(undefined)).pub!.allow!;
  t.ok(inD.includes('$JS.flotilla.API.INFO') && inD.includes('$JS.flotilla.API.STREAM.INFO.OBJ_p_ckpt_j'), 'domain API subjects');
  const plainApi = plain.filter((x) => x.startsWith('$JS.API.'));
  t.ok(
    plainApi.length > 10 && plainApi.every((x) => inD.includes(x) && inD.includes(x.replace('$JS.API.', '$JS.flotilla.API.'))),
    'each $JS.API subject in both forms',
  );
  t.ok(inD.includes('$JS.FC.>') && inD.includes('$JS.ACK.OBJ_p_ckpt_j.>'), '$JS.FC and $JS.ACK unchanged');
  t.equal(inD.length, plain.length + plainApi.length, 'nothing else added');
  t.ok(plain.includes('$JS.API.INFO'), 'without a domain: $JS.API');
  t.same(
    withJsApi('$JS.d.API', { sub: { deny: ['$JS.API.X', 'y'] } }),
    { sub: { deny: ['$JS.API.X', '$JS.d.API.X', 'y'] } },
    'deny lists too',
  );
  t.notOk(
    leafPermissions(subjects('flotilla'), ['n1']).pub!.allow!.some((x) => x.includes('$KV')),
    'the leaf user may not forward KV writes of any domain (none allowed)',
  );
});

t.test('an actor with the longest prefix does its JetStream work in the domain', async (t) => {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  const prefix = `p${'x'.repeat(31)}`; // the longest prefix assertPrefix allows
  const s = subjects(prefix);
  const jobId = 'jmxa3fgzx93be42';
  const actorId = `${jobId}-g12-r3`;
  const head = await connect(srv.options());
  t.teardown(() => head.close());
  const hjs = jsClient(head);
  const hjsm = await jsManager(head);
  await hjsm.streams.add({ name: s.eventsStream, subjects: [s.allJobEvents] });
  const jobs = (await ensureKv(hjs, hjsm, s.jobsBucket, 1, { history: 1 })).kv;
  await jobs.put(jobId, '{"state":"running"}');
  await ensureObjectStore(hjs, hjsm, s.jobStore(jobId, 'ckpt'), 1);
  const creds = await srv.auth!.mint(`actor:${actorId}`, actorPermissions(s, jobId, actorId));
  const jwtBytes = credsJwt(creds).length;
  t.ok(jwtBytes > 4096, `the actor's JWT alone is ${jwtBytes} bytes, past the default control line`);
  const an = await connect(srv.options(creds));
  t.teardown(() => an.close());
  const js = jsClient(an, { timeout: 5000 });
  t.equal((await js.publish(s.jobEvents(jobId), '{}')).stream, s.eventsStream, 'event published');
  const os = await new Objm(js).open(s.jobStore(jobId, 'ckpt'));
  const blob = new Uint8Array(300_000).fill(7);
  await os.putBlob({ name: `${jobId}/c1` }, blob);
  t.same(await os.getBlob(`${jobId}/c1`), blob, 'checkpoint object written and read back');
  const kv = await new Kvm(js).open(s.jobsBucket);
  t.equal((await kv.get(jobId))?.string(), '{"state":"running"}', 'its job record read (direct get)');
  // refused (the server reports the violation asynchronously, so the put itself times out)
  await t.rejects(kv.put(jobId, '{}'), /Permissions Violation|timeout/, 'but not written');
  t.equal((await jobs.get(jobId))?.string(), '{"state":"running"}', 'the record is unchanged');
  // the control: the same actor without the domain (its permissions hold the mapped form too)
  t.equal(
    (await (await new Kvm(jetstream(an, { timeout: 3000 })).open(s.jobsBucket)).get(jobId))?.string(),
    '{"state":"running"}',
    'the plain $JS.API works on a server of the domain as well',
  );
});
