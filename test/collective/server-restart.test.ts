/**
 * The collective through a lost data connection that comes back: the nats-server SIGKILLed
 * mid-allreduce and restarted on its port (0.5 s and 2 s later), and one rank's data lanes cut
 * under it while its peers' stay up (what a failover in a cluster does to the ranks on the dead
 * server). Every allreduce of the loop completes with the exact sum (inputs differ per
 * iteration, so a sum that mixed two attempts or two iterations would show), no operation
 * fails, and the group moved to a new epoch.
 */
import t, { type Test } from 'tap';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { createGroup, RawLane, type Group, type Lane } from '../../worker/collective/index.ts';
import { subjects } from '../../shared/subjects.ts';

const N = 300_000;
const ITERS = 12;
/** rank r's input in iteration i: exact in float32, and its sum over ranks too */
const value = (rank: number, iter: number, k: number): number => ((k % 97) + 1) * (rank + 1) + iter * 1000;
const expected = (ranks: number, iter: number, k: number): number => {
  let s = 0;
  for (let r = 0; r < ranks; r++) s += value(r, iter, k);
  return s;
};

async function rankConns(url: string, n: number): Promise<NatsConnection[]> {
  return Promise.all(Array.from({ length: n }, () => connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 })));
}

/** Runs ITERS allreduces on every rank; `at(iter)` is awaited by rank 0 just before its allreduce of `iter`. */
async function loop(t: Test, groups: Group[], at: (iter: number) => void): Promise<void> {
  const n = groups.length;
  const bad: string[] = [];
  await Promise.all(
    groups.map(async (g, rank) => {
      const data = new Float32Array(N);
      for (let iter = 0; iter < ITERS; iter++) {
        for (let k = 0; k < N; k++) data[k] = value(rank, iter, k);
        if (rank === 0) at(iter);
        await g.allreduce(data);
        for (let k = 0; k < N; k++) {
          if (data[k] !== expected(n, iter, k)) {
            bad.push(`rank ${rank} iteration ${iter} element ${k}: ${data[k]} != ${expected(n, iter, k)}`);
            break;
          }
        }
      }
    }),
  );
  t.same(bad, [], `${ITERS} allreduces on ${n} ranks, every sum exact`);
}

for (const [algorithm, ranks, downMs] of [
  ['multicast', 2, 500],
  ['ring', 3, 2000],
] as const) {
  t.test(`${algorithm}, ${ranks} ranks: the server SIGKILLed mid-allreduce and back after ${downMs} ms`, async (t) => {
    const srv = await startNatsServer({ auth: false, jetstream: false });
    t.teardown(() => srv.stop());
    const prefix = uniquePrefix('rs');
    const conns = await rankConns(srv.url, ranks);
    t.teardown(() => Promise.all(conns.map((c) => c.close().catch(() => undefined))));
    const groups = await Promise.all(
      conns.map((nc, rank) =>
        createGroup({
          nc,
          algorithm,
          lanes: 2,
          chunkBytes: 64 * 1024,
          subjectBase: subjects(prefix).collective('j', 1),
          jobId: 'j',
          generation: 1,
          rank,
          worldSize: ranks,
          timeoutMs: 30_000,
        }),
      ),
    );
    t.same(
      groups.map((g) => g.laneKind),
      groups.map(() => 'raw'),
      'raw lanes',
    );
    const epochs: string[] = [];
    groups[0].on('epoch', (e) => epochs.push(`${e.phase} ${e.epoch}`));
    let restarted: Promise<void> | undefined;
    await loop(t, groups, (iter) => {
      if (iter !== 4) return;
      // a few ms into the allreduce: chunks are on the wire when the server dies
      restarted = new Promise<void>((resolve, reject) =>
        setTimeout(() => {
          srv
            .kill()
            .then(() => new Promise((r) => setTimeout(r, downMs)))
            .then(() => srv.restart())
            .then(resolve, reject);
        }, 3),
      );
    });
    await restarted;
    t.ok(
      groups.every((g) => g.epoch >= 1),
      `every rank moved to a new epoch (${groups.map((g) => g.epoch).join(', ')})`,
    );
    t.ok(epochs.includes('ready 1'), `rank 0 saw epoch 1 ready (${epochs.join(', ')})`);
    await Promise.all(groups.map((g) => g.close()));
  });
}

t.test("one rank's data lanes cut under it, its peer's stay up: the peer redoes or resends, sums exact", async (t) => {
  const srv = await startNatsServer({ auth: false, jetstream: false });
  t.teardown(() => srv.stop());
  const prefix = uniquePrefix('rc');
  const conns = await rankConns(srv.url, 2);
  t.teardown(() => Promise.all(conns.map((c) => c.close().catch(() => undefined))));
  const lanes0: Lane[] = [];
  const groups = await Promise.all(
    conns.map((nc, rank) =>
      createGroup({
        nc,
        algorithm: 'multicast',
        lanes: 2,
        chunkBytes: 64 * 1024,
        ...(rank === 0
          ? {
              wrapLane: (l: Lane) => {
                lanes0.push(l);
                return l;
              },
            }
          : {}),
        subjectBase: subjects(prefix).collective('j', 1),
        jobId: 'j',
        generation: 1,
        rank,
        worldSize: 2,
        timeoutMs: 30_000,
      }),
    ),
  );
  const peerEpochs: string[] = [];
  groups[1].on('epoch', (e) => peerEpochs.push(`${e.phase} ${e.epoch}: ${e.reason}`));
  let cuts = 0;
  await loop(t, groups, (iter) => {
    if (iter !== 3 && iter !== 7) return;
    setTimeout(() => {
      // the sockets of rank 0's current lanes end as a dead server's would
      for (const l of lanes0.splice(0)) if (l instanceof RawLane) (l as unknown as { socket: { destroy(): void } }).socket.destroy();
      cuts++;
    }, 2);
  });
  t.equal(cuts, 2, 'rank 0 lost its lanes twice');
  t.ok(groups[0].epoch >= 2 && groups[1].epoch === groups[0].epoch, `both ranks in epoch ${groups[0].epoch}`);
  t.ok(
    peerEpochs.some((e) => /^lost 1: rank 0 restarts/.test(e)),
    `rank 1 (lanes never lost) was moved by rank 0's announcement (${peerEpochs.join(' | ')})`,
  );
  await Promise.all(groups.map((g) => g.close()));
});
