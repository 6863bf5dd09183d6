/**
 * Revoking a worker join token cuts its nodes off the real nats-server at once: the connection
 * of a node-bound token's node and of every node a pool token admitted is closed by the server
 * ("User Authentication Revoked"), their creds are refused from then on (also after the server
 * restarts: the head pushes the list again), and other nodes stay connected.
 */
import t from 'tap';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { headFixture } from '../head/helpers/head.ts';
import { until } from '../head/helpers/wait.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { parseJoinToken } from '../../shared/join-token.ts';
import { subjects } from '../../shared/subjects.ts';
import { joinPool } from '../../worker/agent/join-pool.ts';

/** A node's connection and the errors the server sent it. */
async function nodeConn(url: string, creds: string): Promise<{ nc: NatsConnection; errors: string[] }> {
  const nc = await connect(natsOptions(url, creds, { maxReconnectAttempts: -1, reconnectTimeWait: 200 }));
  const errors: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error?.message ?? s.error));
  })();
  return { nc, errors };
}

const refused = (url: string, creds: string) =>
  connect(natsOptions(url, creds, { reconnect: false, timeout: 5000 })).then(
    async (c) => {
      await c.close();
      return 'connected';
    },
    (e: Error) => e.message,
  );

t.test('revoking worker tokens disconnects their nodes and keeps them out', async (t) => {
  const { head, nats, prefix } = await headFixture(t, { restAuth: true });
  const s = subjects(prefix);
  const admin = { authorization: `Bearer ${head.firstAdminToken}` };
  const create = async (body: object) => {
    const r = await head.app.inject({ method: 'POST', url: '/v1/tokens', headers: admin, payload: body });
    t.equal(r.statusCode, 201, `token created (${JSON.stringify(body)})`);
    return r.json() as { id: string; token: string };
  };
  const revoke = async (id: string) => {
    const r = await head.app.inject({ method: 'DELETE', url: `/v1/tokens/${id}`, headers: admin });
    t.equal(r.statusCode, 200, `token ${id} revoked`);
  };

  const bound = await create({ role: 'worker', name: 'n1' });
  const other = await create({ role: 'worker', name: 'n2' });
  const pool = await create({ role: 'worker' });
  const n1 = await nodeConn(nats.url, parseJoinToken(bound.token).creds);
  const n2 = await nodeConn(nats.url, parseJoinToken(other.token).creds);
  const joined = await joinPool(nats.url, parseJoinToken(pool.token).creds, pool.id, 'n3', s);
  const n3 = await nodeConn(nats.url, joined);

  await revoke(bound.id);
  await until('the server cut n1 off', () => n1.errors.some((e) => /revoked/i.test(e)), 30_000);
  t.pass(`n1's connection was closed by the server: ${n1.errors[0]}`);
  t.match(await refused(nats.url, parseJoinToken(bound.token).creds), /Authorization Violation/, 'n1 cannot log in again');
  n2.nc.publish(s.nodeHeartbeat('n2'), new Uint8Array([1]));
  await n2.nc.flush();
  t.same(n2.errors, [], 'n2 (another token) stays connected and may publish');
  t.same(n3.errors, [], 'the pool-admitted n3 is untouched so far');

  await revoke(pool.id);
  await until('the server cut n3 (admitted by the pool token) off', () => n3.errors.some((e) => /revoked/i.test(e)), 30_000);
  t.pass(`n3's connection was closed by the server: ${n3.errors.find((e) => /revoked/i.test(e))}`);
  t.match(await refused(nats.url, joined), /Authorization Violation/, 'n3 cannot log in again');
  const again = await joinPool(nats.url, parseJoinToken(pool.token).creds, pool.id, 'n4', s).catch((e: Error) => e);
  t.match(String(again), /Authorization Violation/, "the pool token's own joiner user is revoked too: it cannot even ask for a new node");

  // the account JWT updates leave the account's JetStream alone: the head still writes KV
  const job = await head.app.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: admin,
    payload: { workers: 1, trainer: { kind: 'logreg', steps: 5 } },
  });
  t.equal(job.statusCode, 201, 'a job can still be submitted (KV) after the account updates');

  // a restarted server keeps the updates (full resolver on disk, revoke-persist.test.ts); the head pushes them again too
  await nats.restart();
  await until(
    'revocations back after a server restart',
    async () => /Authorization Violation/.test(await refused(nats.url, parseJoinToken(bound.token).creds)),
    60_000,
  );
  t.pass('after a restart of the server n1 is refused again');
  t.equal(await refused(nats.url, parseJoinToken(other.token).creds), 'connected', 'and n2 still logs in');
  for (const c of [n1, n2, n3]) await c.nc.close();
});
