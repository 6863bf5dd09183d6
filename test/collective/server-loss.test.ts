/**
 * The collective when its NATS server goes away for good (the ranks' main connections do not
 * reconnect, so no new epoch can be agreed; test/collective/server-restart.test.ts has a server
 * that comes back): an allreduce in flight (and every later one) rejects with
 * CollectiveConnectionError, a retryable FLO_UNAVAILABLE, on raw lanes and on nats.js lanes
 * alike, instead of hanging until the timeout or failing as misuse; and raw lanes whose first
 * server is gone open on the next candidate server.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { expectedSum, firstMismatch, input } from './kit.ts';
import { CollectiveConnectionError, createGroup } from '../../worker/collective/index.ts';
import { subjects } from '../../shared/subjects.ts';

for (const laneTransport of ['raw', 'nats'] as const) {
  t.test(`${laneTransport} lanes: SIGKILL of the server mid-allreduce is a retryable connection error`, async (t) => {
    const srv = await startNatsServer({ auth: false, jetstream: false });
    t.teardown(() => srv.stop());
    const prefix = uniquePrefix('loss');
    // no reconnect, so only the lanes' own loss detection can end the operation early
    const opts = { servers: srv.url, maxReconnectAttempts: 0 };
    const conns = await Promise.all([0, 1].map(() => connect(opts)));
    t.teardown(() => Promise.all(conns.map((c) => c.close().catch(() => undefined))));
    // a 120 s operation timeout: a test that ends at all shows the loss was detected, not timed out
    const groups = await Promise.all(
      conns.map((nc, rank) =>
        createGroup({
          nc,
          connect: () => connect(opts),
          laneTransport,
          lanes: 2,
          chunkBytes: 64 * 1024,
          subjectBase: subjects(prefix).collective('j', 3),
          jobId: 'j',
          generation: 3,
          rank,
          worldSize: 2,
          timeoutMs: 120_000,
        }),
      ),
    );
    t.same(
      groups.map((g) => g.laneKind),
      [laneTransport, laneTransport],
      `${laneTransport} lanes in use`,
    );
    let killed = false;
    const results = await Promise.all(
      groups.map(async (g, r) => {
        const data = new Float32Array(2_000_000);
        for (let iter = 0; ; iter++) {
          data.fill(1);
          if (iter === 3 && r === 0 && !killed) {
            killed = true;
            setTimeout(() => void srv.kill(), 5);
          }
          try {
            await g.allreduce(data);
          } catch (e) {
            return { e, iter };
          }
        }
      }),
    );
    for (const [rank, { e, iter }] of results.entries()) {
      t.type(e, CollectiveConnectionError, `rank ${rank}: ${String(e)}`);
      t.match(e, { code: 'FLO_UNAVAILABLE', retryable: true }, `rank ${rank}: retryable`);
      t.ok(iter >= 3, `rank ${rank} completed ${iter} allreduces before the kill`);
    }
    const later = await groups[0].allreduce(new Float32Array(4)).catch((x: unknown) => x);
    t.type(later, CollectiveConnectionError, 'a later operation of the group rejects the same way');
    await Promise.all(groups.map((g) => g.close()));
  });
}

t.test('raw lanes: a dead first server, then the next candidate', async (t) => {
  const srv = await startNatsServer({ auth: false, jetstream: false });
  t.teardown(() => srv.stop());
  const dead = await startNatsServer({ auth: false, jetstream: false });
  await dead.stop();
  const prefix = uniquePrefix('cand');
  const conns = await Promise.all([0, 1].map(() => connect(srv.options())));
  t.teardown(() => Promise.all(conns.map((c) => c.close())));
  const groups = await Promise.all(
    conns.map((nc, rank) =>
      createGroup({
        nc,
        dataServer: new URL(dead.url).host,
        dataServers: [srv.url],
        subjectBase: subjects(prefix).collective('j', 1),
        jobId: 'j',
        generation: 1,
        rank,
        worldSize: 2,
        timeoutMs: 20_000,
      }),
    ),
  );
  t.same(
    groups.map((g) => g.laneKind),
    ['raw', 'raw'],
    'raw lanes on the second candidate',
  );
  const data = [input(0, 5000), input(1, 5000)];
  await Promise.all(groups.map((g, r) => g.allreduce(data[r])));
  t.same(
    data.map((d) => firstMismatch(d, expectedSum(2, 5000))),
    [-1, -1],
    'exact sums',
  );
  await Promise.all(groups.map((g) => g.close()));
});
