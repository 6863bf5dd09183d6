/**
 * REST authentication through a NATS outage. A token's verdict is cached for 30 s; once it is
 * older, a request re-reads the token from KV. While the head is cut off from NATS that read is
 * not tried (it used to wait out a 5 s KV timeout on every request, then use the cached copy
 * without refreshing its time): a token KV confirmed within 15 min is believed at once (reads
 * answer with stale_ms, writes 503 FLO_UNAVAILABLE), an unknown or older one is 503 at once, and
 * once NATS is back a revocation recorded in KV meanwhile applies. The cache's clock is injected
 * (`tokenClock`), so a token "cached for 31 s" needs no 31 s wait.
 */
import t from 'tap';
import { Kvm } from '@nats-io/kv';
import { headFixture } from '../head/helpers/head.ts';
import { until } from '../head/helpers/wait.ts';
import { subjects } from '../../shared/subjects.ts';
import { TokenStore, CACHE_MS, OUTAGE_TRUST_MS } from '../../head/auth/token-store.ts';

t.test('an outage: cached tokens answer at once, no KV read is waited for; revocations apply once back', async (t) => {
  let skew = 0;
  const { head, nats, prefix } = await headFixture(t, { restAuth: true, tokenClock: () => Date.now() + skew });
  const admin = { authorization: `Bearer ${head.firstAdminToken}` };
  const make = async (role: string) =>
    (await head.app.inject({ method: 'POST', url: '/v1/tokens', headers: admin, payload: { role } })).json() as {
      id: string;
      token: string;
    };
  const viewer = await make('viewer');
  const submitter = await make('submitter');
  const as = (tok: string) => ({ authorization: `Bearer ${tok}` });
  const spec = { workers: 1, trainer: { kind: 'logreg', steps: 5 } };
  const made = await head.app.inject({ method: 'POST', url: '/v1/jobs', headers: as(submitter.token), payload: spec });
  t.equal(made.statusCode, 201);
  const id = made.json().id as string;
  t.equal(
    (await head.app.inject({ url: `/v1/jobs/${id}`, headers: as(viewer.token) })).statusCode,
    200,
    'the viewer token is checked (and cached)',
  );
  // a never-used token of the right form: the head has no verdict on it
  const unknown = (await head.tokens!.create('viewer', 'never-used')).token;

  skew += CACHE_MS + 1000; // both cached verdicts are now older than the cache period
  await nats.kill();
  await until('healthz 503', async () => (await head.app.inject({ url: '/healthz' })).statusCode === 503, 20_000);
  const reads = head.tokens!.stats.kvReads;
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const read = await head.app.inject({ url: `/v1/jobs/${id}`, headers: as(viewer.token) });
    t.equal(read.statusCode, 200, `read ${i + 1} during the outage is served (${Date.now() - t0} ms)`);
    t.ok(read.json().stale_ms > 0, `with stale_ms ${read.json().stale_ms}`);
    const t1 = Date.now();
    const post = await head.app.inject({ method: 'POST', url: '/v1/jobs', headers: as(submitter.token), payload: spec });
    t.equal(post.statusCode, 503, `write ${i + 1} during the outage is 503 (${Date.now() - t1} ms)`);
    t.equal(post.json().error.code, 'FLO_UNAVAILABLE');
  }
  const never = await head.app.inject({ url: `/v1/jobs/${id}`, headers: as(unknown) });
  t.equal(never.statusCode, 503, 'a token without a cached verdict cannot be checked: 503');
  t.equal(never.json().error.code, 'FLO_UNAVAILABLE');
  t.equal(head.tokens!.stats.kvReads, reads, 'no request during the outage tried to read KV (each such read waited out a 5 s timeout)');

  skew += OUTAGE_TRUST_MS;
  const old = await head.app.inject({ url: `/v1/jobs/${id}`, headers: as(viewer.token) });
  t.equal(old.statusCode, 503, 'a verdict older than the outage trust period is not believed: 503');
  t.match(old.json().error.message, /cut off from NATS/);
  skew -= OUTAGE_TRUST_MS;

  await nats.restart();
  await until('healthz 200 again', async () => (await head.app.inject({ url: '/healthz' })).statusCode === 200, 30_000);
  // revoked elsewhere (another head's store on the same bucket): this head's cache does not know
  const kv = await new Kvm(head.nc).open(subjects(prefix).tokensBucket);
  await new TokenStore(kv).revoke(viewer.id);
  const revoked = await head.app.inject({ url: `/v1/jobs/${id}`, headers: as(viewer.token) });
  t.equal(revoked.statusCode, 401, 'once NATS is back the cached verdict is read again: the revocation applies');
  const back = await head.app.inject({ method: 'POST', url: '/v1/jobs', headers: as(submitter.token), payload: spec });
  t.equal(back.statusCode, 201, 'and writes work again');
  t.ok(head.tokens!.stats.kvReads > reads, 'by reading KV again');
});

t.test('a KV that stops answering before the head notices: one bounded read, then none for a while', async (t) => {
  let skew = 0;
  const { head, nats, prefix } = await headFixture(t, { restAuth: true });
  // a store told nothing about the head's view: only its own failed read can tell it
  const store = new TokenStore(await new Kvm(head.nc).open(subjects(prefix).tokensBucket), { now: () => Date.now() + skew });
  const { token, info } = await store.create('viewer', 'v');
  t.equal((await store.verify(token))?.id, info.id, 'verified from KV');
  t.equal(store.stats.kvReads, 1);
  skew += CACHE_MS + 1000;
  await nats.kill();
  const t0 = Date.now();
  t.equal((await store.verify(token))?.id, info.id, `the re-read fails, the cached verdict is used (${Date.now() - t0} ms)`);
  t.equal(store.stats.kvReads, 2, 'after one read');
  for (let i = 0; i < 3; i++) t.equal((await store.verify(token))?.id, info.id, `request ${i + 2} uses it too`);
  t.equal(store.stats.kvReads, 2, 'without a read each: the failed read is not paid for again by the next request');
});
