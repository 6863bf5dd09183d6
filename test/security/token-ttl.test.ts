/**
 * Token lifetimes (`ttl_s`, `flotilla token create --ttl`): a REST token stops working at its
 * expiry; a pool join token's joiner creds carry the expiry, so the real server refuses joins
 * after it while a node that joined before keeps its own (non-expiring) credentials, as a
 * kubeadm token's expiry does not evict nodes; a node-bound join token cannot expire (it is
 * the node's identity) and asking for that is a 400 naming the field.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { headFixture } from '../head/helpers/head.ts';
import { natsOptions, credsJwt, jwtClaims } from '../../shared/nats-connect.ts';
import { parseJoinToken } from '../../shared/join-token.ts';
import { subjects } from '../../shared/subjects.ts';
import { joinPool } from '../../worker/agent/join-pool.ts';
import { durationSeconds } from '../../bin/cli/token.ts';

t.test('token lifetimes over REST and on the NATS server', async (t) => {
  const { head, nats, prefix } = await headFixture(t, { restAuth: true });
  const s = subjects(prefix);
  const admin = { authorization: `Bearer ${head.firstAdminToken}` };
  const post = (payload: object) => head.app.inject({ method: 'POST', url: '/v1/tokens', headers: admin, payload });

  const viewer = await post({ role: 'viewer', ttl_s: 3600 });
  t.equal(viewer.statusCode, 201);
  const exp = Date.parse(viewer.json().expires_at);
  t.ok(Math.abs(exp - (Date.now() + 3_600_000)) < 60_000, `a REST token's expires_at is ttl_s from now (${viewer.json().expires_at})`);
  const use = await head.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization: `Bearer ${viewer.json().token}` } });
  t.equal(use.statusCode, 200, 'and it works until then');
  const short = await head.tokens!.create('viewer', 'short', { expiresInMs: 300 });
  await new Promise((r) => setTimeout(r, 800));
  const late = await head.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization: `Bearer ${short.token}` } });
  t.equal(late.statusCode, 401, 'an expired REST token is refused');
  t.equal(late.json().error.code, 'FLO_UNAUTHENTICATED');

  const bound = await post({ role: 'worker', name: 'n1', ttl_s: 3600 });
  t.equal(bound.statusCode, 400, 'a node-bound join token with a lifetime is a 400');
  t.match(bound.json().error.message, /body\.ttl_s: .*cannot expire/, 'naming the field and why');
  const tooShort = await post({ role: 'viewer', ttl_s: 5 });
  t.equal(tooShort.statusCode, 400, 'ttl_s below 60 s is a 400');
  t.match(tooShort.json().error.message, /ttl_s/);

  const pool = await post({ role: 'worker', ttl_s: 120 });
  t.equal(pool.statusCode, 201, 'an expiring pool join token');
  const claims = jwtClaims(credsJwt(parseJoinToken(pool.json().token).creds)) as { exp?: number };
  t.ok(claims.exp && Math.abs(claims.exp - (Date.now() / 1000 + 120)) < 30, 'its joiner creds carry the expiry (JWT exp)');

  // on the server: a pool token that expires in 2 s (below the REST minimum, minted directly)
  const rec = await head.tokens!.create('worker', undefined, { token: (id) => head.minter!.pool(id, 2) });
  const cred = parseJoinToken(rec.token);
  if (cred.kind !== 'pool') throw new Error('not a pool token');
  const joined = await joinPool(nats.url, cred.creds, cred.tokenId, 'early-node', s);
  t.pass('a worker joins before the expiry');
  await new Promise((r) => setTimeout(r, 3500));
  await t.rejects(joinPool(nats.url, cred.creds, cred.tokenId, 'late-node', s), 'the server refuses a join after the expiry');
  const nc = await connect(natsOptions(nats.url, joined, { reconnect: false, timeout: 5000 }));
  const errors: string[] = [];
  void (async () => {
    for await (const st of nc.status()) if (st.type === 'error') errors.push(String(st.error));
  })();
  nc.publish(s.nodeHeartbeat('early-node'), new Uint8Array([1]));
  await nc.flush();
  t.same(errors, [], 'the node that joined before keeps working with its own credentials');
  await nc.close();
});

t.test('--ttl durations', async (t) => {
  t.equal(durationSeconds('90s'), 90);
  t.equal(durationSeconds('30m'), 1800);
  t.equal(durationSeconds('24h'), 86_400);
  t.equal(durationSeconds('7d'), 604_800);
  t.equal(durationSeconds('600'), 600);
  t.equal(durationSeconds('1 week'), null);
  t.equal(durationSeconds('-5m'), null);
});
