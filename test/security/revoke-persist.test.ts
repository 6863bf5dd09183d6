/**
 * Revocations survive a server restart without the head: every server Flotilla starts or ships
 * keeps account JWT updates in nats-server's full resolver directory, so a server that restarts
 * while the head is away (nobody to push the list again) refuses revoked users from its first
 * second; in a cluster, a server that was down when the update was pushed learns it from its peers.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { startNatsCluster, startNatsServer } from '../kit/nats-server.ts';
import { AccountRevoker, readRevoker } from '../../head/auth/revocations.ts';
import { natsOptions, credsJwt, jwtClaims } from '../../shared/nats-connect.ts';
import { until } from '../head/helpers/wait.ts';

const login = (url: string | string[], creds: string) =>
  connect(natsOptions(url, creds, { reconnect: false, timeout: 5000 })).then(
    async (c) => {
      await c.close();
      return 'connected';
    },
    (e: Error) => e.message,
  );
const keyOf = (creds: string) => jwtClaims(credsJwt(creds)).sub as string;
// JWT issue times are whole seconds and a resolver keeps the newer of two account JWTs: an update
// issued in the same second as the trust chain (a test's speed, never a real revocation) ties
// with the preloaded one
const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

t.test('a restarted server still refuses a revoked user, with no head to push the list', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const auth = nats.auth!;
  const victim = await auth.mint('victim', {});
  const bystander = await auth.mint('bystander', {});
  t.equal(await login(nats.url, victim), 'connected', 'the user logs in before');
  await nextSecond();
  const rv = new AccountRevoker(readRevoker(auth.revoker!), nats.url);
  await rv.push({ [keyOf(victim)]: Math.ceil(Date.now() / 1000) + 1 });
  await rv.close();
  t.match(await login(nats.url, victim), /Authorization Violation/, 'refused once revoked');
  await nats.kill();
  await nats.restart();
  t.match(
    await login(nats.url, victim),
    /Authorization Violation/,
    "refused at once after the restart (the update is on the server's disk)",
  );
  t.equal(await login(nats.url, bystander), 'connected', 'other users of the account still log in');
});

t.test('a cluster server that was down during the update learns it from its peers', async (t) => {
  const c = await startNatsCluster(3);
  t.teardown(() => c.stop());
  const auth = c.auth!;
  const victim = await auth.mint('victim', {});
  const [s0, , s2] = c.servers;
  await s2.kill();
  await nextSecond();
  const rv = new AccountRevoker(readRevoker(auth.revoker!), s0.url);
  await rv.push({ [keyOf(victim)]: Math.ceil(Date.now() / 1000) + 1 });
  await rv.close();
  t.match(await login(s0.url, victim), /Authorization Violation/, 'refused on the server that took the update');
  await s2.restart();
  await until(
    'the restarted server has the update from its peers',
    async () => /Authorization Violation/.test(await login(s2.url, victim)),
    60_000,
  );
  t.pass('the restarted server refuses the revoked user');
  t.equal(await login(s2.url, auth.headCreds), 'connected', 'and still takes the head');
});
