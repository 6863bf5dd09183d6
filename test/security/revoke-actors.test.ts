/**
 * Revoking a worker join token revokes the actor credentials the head minted for the nodes it
 * admitted: against a real head and nats-server, an actor connection whose creds were sent to
 * a revoked node is closed by the server ("User Authentication Revoked") and its creds are
 * refused from then on, for a node-bound token and for a pool token's node, while the actors of
 * other nodes stay connected and may still publish on their job's subjects.
 */
import t from 'tap';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { headFixture } from '../head/helpers/head.ts';
import { until } from '../head/helpers/wait.ts';
import { FakeAgent } from '../head/helpers/fake-agent.ts';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { credsJwt, jwtClaims, natsOptions } from '../../shared/nats-connect.ts';
import { parseJoinToken } from '../../shared/join-token.ts';
import { subjects } from '../../shared/subjects.ts';
import { joinPool } from '../../worker/agent/join-pool.ts';

async function conn(url: string, creds: string): Promise<{ nc: NatsConnection; errors: string[] }> {
  const nc = await connect(natsOptions(url, creds, { maxReconnectAttempts: -1, reconnectTimeWait: 200 }));
  const errors: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error?.message ?? s.error));
  })();
  return { nc, errors };
}

const login = (url: string, creds: string) =>
  connect(natsOptions(url, creds, { reconnect: false, timeout: 5000 })).then(
    async (c) => {
      await c.close();
      return 'connected';
    },
    (e: Error) => e.message,
  );

t.test("revoking a node's join token revokes the actor creds the head gave that node", async (t) => {
  const { head, nats, prefix } = await headFixture(t, { restAuth: true });
  const s = subjects(prefix);
  const admin = { authorization: `Bearer ${head.firstAdminToken}` };
  const token = async (body: object) => {
    const r = await head.app.inject({ method: 'POST', url: '/v1/tokens', headers: admin, payload: body });
    t.equal(r.statusCode, 201, `token created (${JSON.stringify(body)})`);
    return r.json() as { id: string; token: string };
  };
  const revoke = async (id: string) =>
    t.equal((await head.app.inject({ method: 'DELETE', url: `/v1/tokens/${id}`, headers: admin })).statusCode, 200, `token ${id} revoked`);

  const bound1 = await token({ role: 'worker', name: 'n1' });
  const bound2 = await token({ role: 'worker', name: 'n2' });
  const pool = await token({ role: 'worker' });
  const n3creds = await joinPool(nats.url, parseJoinToken(pool.token).creds, pool.id, 'n3', s);
  // one slot each, so three one-rank jobs land one per node
  const agents: FakeAgent[] = [];
  for (const [node, creds] of [
    ['n1', parseJoinToken(bound1.token).creds],
    ['n2', parseJoinToken(bound2.token).creds],
    ['n3', n3creds],
  ] as const) {
    agents.push(await new FakeAgent(nats.options(creds), prefix, node, 1).start());
  }
  t.teardown(async () => {
    for (const a of agents) await a.stop();
  });
  const jobs: string[] = [];
  for (let i = 0; i < 3; i++)
    jobs.push(
      (
        (
          await head.app.inject({
            method: 'POST',
            url: '/v1/jobs',
            headers: admin,
            payload: { workers: 1, trainer: { kind: 'logreg', steps: 100_000 } },
          })
        ).json() as { id: string }
      ).id,
    );
  await until('each node got an actor', () => agents.every((a) => a.spawned.length === 1) || undefined);
  const [a1, a2, a3] = agents.map((a) => {
    const jobId = a.spawned[0].jobId;
    return { jobId, creds: a.credsOf(jobId)! };
  });
  t.ok(a1.creds && a2.creds && a3.creds, "the head sent each node its actor's creds");
  const [c1, c2, c3] = await Promise.all([a1, a2, a3].map((a) => conn(nats.url, a.creds)));
  t.teardown(async () => {
    for (const c of [c1, c2, c3]) await c.nc.close();
  });
  const tokens = (await head.app.inject({ url: '/v1/tokens', headers: admin })).json().tokens as Array<Record<string, unknown>>;
  t.notOk(
    tokens.some((x) => 'actors' in x || 'nodes' in x || 'users' in x),
    'the token list does not show the recorded users',
  );

  await revoke(bound1.id);
  await until("n1's actor connection cut off", () => c1.errors.some((e) => /revoked/i.test(e)), 30_000);
  t.pass(`the server closed the actor connection of n1: ${c1.errors.find((e) => /revoked/i.test(e))}`);
  t.match(await login(nats.url, a1.creds), /Authorization Violation/, "n1's actor creds are refused from now on");
  c2.nc.publish(s.collective(a2.jobId, 0), new Uint8Array([1]));
  c3.nc.publish(s.collective(a3.jobId, 0), new Uint8Array([1]));
  await Promise.all([c2.nc.flush(), c3.nc.flush()]);
  t.same([c2.errors, c3.errors], [[], []], "the actors of n2 and n3 stay connected and may publish on their job's subjects");

  await revoke(pool.id);
  await until("n3's actor (its node admitted by the pool token) cut off", () => c3.errors.some((e) => /revoked/i.test(e)), 30_000);
  t.pass(`the server closed the actor connection of n3: ${c3.errors.find((e) => /revoked/i.test(e))}`);
  t.match(await login(nats.url, a3.creds), /Authorization Violation/, "n3's actor creds are refused too");
  t.equal(await login(nats.url, a2.creds), 'connected', "n2's actor still logs in");
  t.same(c2.errors, [], 'and its connection was never touched');
});

t.test(
  "the actors of one node share one NATS user, each with its own job's JWT: a token records one key per node, not per actor",
  async (t) => {
    const { head, nats, prefix } = await headFixture(t, { restAuth: true });
    const s = subjects(prefix);
    const admin = { authorization: `Bearer ${head.firstAdminToken}` };
    const pool = (await head.app.inject({ method: 'POST', url: '/v1/tokens', headers: admin, payload: { role: 'worker' } })).json() as {
      id: string;
      token: string;
    };
    const creds = await joinPool(nats.url, parseJoinToken(pool.token).creds, pool.id, 'n1', s);
    const agent = await new FakeAgent(nats.options(creds), prefix, 'n1', 3).start();
    t.teardown(() => agent.stop());
    for (let i = 0; i < 3; i++)
      await head.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: admin,
        payload: { workers: 1, trainer: { kind: 'logreg', steps: 100_000 } },
      });
    await until('three actors on n1', () => agent.spawned.length === 3 || undefined);
    const claims = agent.spawned.map((a) => jwtClaims(credsJwt(agent.credsOf(a.jobId)!)));
    t.equal(new Set(claims.map((c) => c.sub)).size, 1, "one user key for the node's actors");
    t.equal(new Set(claims.map((c) => c.name)).size, 3, 'each actor its own JWT');
    // job 0's creds may not speak on job 1's collective: the JWT, not the key, carries the permissions
    const c0 = await conn(nats.url, agent.credsOf(agent.spawned[0].jobId)!);
    t.teardown(() => c0.nc.close());
    c0.nc.publish(s.collective(agent.spawned[1].jobId, 0), new Uint8Array([1]));
    await c0.nc.flush();
    await until('the server refuses it', () => c0.errors.some((e) => /permissions violation/i.test(e)) || undefined, 10_000);
    t.pass("an actor's creds are refused on another job's subjects");
    const headNc = await connect(nats.options());
    t.teardown(() => headNc.close());
    const kv = await new Kvm(jetstream(headNc)).open(s.tokensBucket);
    const rec = (await kv.get(pool.id))!.json() as { actors?: string[] };
    t.same(rec.actors, [claims[0].sub], "the pool token recorded the node's one actor user");
  },
);
