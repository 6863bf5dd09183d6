import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { expectedSum, firstMismatch, input, startRanks } from './kit.ts';
import { connectRawLane, createGroup, RawLaneUnsupported, type AlgorithmName } from '../../worker/collective/index.ts';
import { subjects } from '../../shared/subjects.ts';

const server = await startNatsServer({ auth: false, jetstream: false, maxPayload: 64 * 1024 });
t.teardown(() => server.stop());

t.test('nats.js lanes (from connect, or the main connection) give exact sums too', async (t) => {
  for (const lanes of [undefined, 2]) {
    const ranks = await startRanks(server.url, uniquePrefix('nl'), 3, { laneTransport: 'nats', lanes, chunkBytes: 1000 });
    for (const algorithm of ['ring', 'multicast'] as AlgorithmName[]) {
      const data = ranks.groups.map((_, r) => input(r, 4321, 5));
      await Promise.all(ranks.groups.map((g, r) => g.allreduce(data[r], { algorithm })));
      t.same(
        data.map((d) => firstMismatch(d, expectedSum(3, 4321, 5))),
        [-1, -1, -1],
        `${algorithm}, ${lanes ?? 'main'} connection(s)`,
      );
    }
    await ranks.close();
  }
});

t.test('chunks stay below the server max_payload (64 KiB here) on every lane kind', async (t) => {
  for (const laneTransport of ['raw', 'nats'] as const) {
    // asks for 1 MiB chunks; the server allows 64 KiB
    const ranks = await startRanks(server.url, uniquePrefix('mp'), 2, { laneTransport, lanes: 2, chunkBytes: 1024 * 1024 });
    t.same(
      ranks.groups.map((g) => g.laneKind),
      [laneTransport, laneTransport],
      `${laneTransport} lanes in use`,
    );
    const data = ranks.groups.map((_, r) => input(r, 100_003));
    await Promise.all(ranks.groups.map((g, r) => g.allreduce(data[r], { algorithm: 'ring' })));
    t.same(
      data.map((d) => firstMismatch(d, expectedSum(2, 100_003))),
      [-1, -1],
      laneTransport,
    );
    await ranks.close();
  }
});

t.test('RawLane: publish/subscribe round trip, and refusal when the server wants auth', async (t) => {
  const a = await connectRawLane({ server: new URL(server.url).host });
  const b = await connectRawLane({ server: new URL(server.url).host });
  t.equal(a.maxPayload, 64 * 1024, 'max_payload from INFO');
  const got: { subject: string; bytes: number[] }[] = [];
  const all = new Promise<void>((resolve) =>
    b.subscribe('lane.test.>', (subject, d) => {
      got.push({ subject, bytes: [d.length, d[0] ?? -1, d[d.length - 1] ?? -1] });
      if (got.length === 3) resolve();
    }),
  );
  await b.flush();
  const big = new Uint8Array(60_000).map((_, i) => i % 251);
  a.publish('lane.test.one', new Uint8Array([1, 2, 3]), false);
  a.publish('lane.test.empty', new Uint8Array(0), false);
  a.publish('lane.test.big', big, true);
  await a.settle();
  await all;
  t.same(got, [
    { subject: 'lane.test.one', bytes: [3, 1, 3] },
    { subject: 'lane.test.empty', bytes: [0, -1, -1] },
    { subject: 'lane.test.big', bytes: [60_000, 0, 59_999 % 251] },
  ]);
  await a.close();
  await b.close();

  const locked = await startNatsServer({ auth: false, jetstream: false, extraConfig: 'authorization { token: "s3cret" }' });
  t.teardown(() => locked.stop());
  const e = await connectRawLane({ server: new URL(locked.url).host }).catch((x: unknown) => x);
  t.type(e, RawLaneUnsupported, 'a server with auth is refused');
  // and a group on that server falls back to nats.js lanes
  const prefix = uniquePrefix('auth');
  const conns = await Promise.all([0, 1].map(() => connect({ servers: locked.url, token: 's3cret' })));
  const groups = await Promise.all(
    conns.map((nc, rank) =>
      createGroup({
        nc,
        connect: () => connect({ servers: locked.url, token: 's3cret' }),
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
    ['nats', 'nats'],
    'the group reports nats.js lanes',
  );
  const data = [input(0, 777), input(1, 777)];
  await Promise.all(groups.map((g, r) => g.allreduce(data[r])));
  t.same(
    data.map((d) => firstMismatch(d, expectedSum(2, 777))),
    [-1, -1],
    'allreduce over the fallback lanes',
  );
  await Promise.all(groups.map((g) => g.close()));
  await Promise.all(conns.map((c) => c.close()));
});
