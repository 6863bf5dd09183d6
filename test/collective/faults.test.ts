import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { expectedSum, firstMismatch, input, startRanks } from './kit.ts';
import { CollectiveAbortedError, CollectiveTimeoutError, createGroup, type AlgorithmName } from '../../worker/collective/index.ts';
import { subjects } from '../../shared/subjects.ts';

const server = await startNatsServer({ auth: false, jetstream: false });
t.teardown(() => server.stop());
const rankProc = fileURLToPath(new URL('./rank-proc.ts', import.meta.url));

for (const algorithm of ['ring', 'multicast'] as AlgorithmName[]) {
  t.test(`${algorithm}: a rank killed mid-allreduce makes the others reject with a timeout naming it`, async (t) => {
    const n = 4;
    const killed = 3;
    const base = subjects(uniquePrefix('kill')).collective('job', 5);
    const child = spawn(process.execPath, ['--import', 'tsx', rankProc], {
      env: {
        ...process.env,
        COLL_URL: server.url,
        COLL_BASE: base,
        COLL_GEN: '5',
        COLL_RANK: String(killed),
        COLL_N: String(n),
        COLL_ALGO: algorithm,
        COLL_LEN: '200000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/iter 2\n/.test(out)) child.kill('SIGKILL'); // somewhere inside the 4th allreduce
    });
    const conns = await Promise.all([0, 1, 2].map(() => connect({ servers: server.url })));
    const groups = await Promise.all(
      conns.map((nc, rank) =>
        createGroup({
          nc,
          subjectBase: base,
          jobId: 'job',
          generation: 5,
          rank,
          worldSize: n,
          timeoutMs: 3000,
          joinTimeoutMs: 60_000,
          algorithm,
          chunkBytes: 4096,
        }),
      ),
    );
    const results = await Promise.all(
      groups.map(async (g) => {
        const data = new Float32Array(200000);
        let iters = 0;
        for (;;) {
          data.fill(1);
          try {
            await g.allreduce(data);
            iters++;
          } catch (e) {
            return { e, iters };
          }
          if (data[0] !== n) return { e: new Error(`wrong sum ${data[0]}`), iters };
        }
      }),
    );
    await exited;
    for (const [rank, { e, iters }] of results.entries()) {
      t.type(e, CollectiveTimeoutError, `rank ${rank} rejects with CollectiveTimeoutError (${String(e)})`);
      t.same((e as CollectiveTimeoutError).missingRanks, [killed], `rank ${rank} names rank ${killed}`);
      t.ok(iters >= 2, `rank ${rank} completed ${iters} allreduces before the kill`);
    }
    await Promise.all(groups.map((g) => g.close()));
    await Promise.all(conns.map((c) => c.close()));
  });
}

t.test('a rank that never arrives: createGroup times out naming it', async (t) => {
  const base = subjects(uniquePrefix('absent')).collective('job', 1);
  const conns = await Promise.all([0, 1].map(() => connect({ servers: server.url })));
  const err = await Promise.all(
    conns.map((nc, rank) =>
      createGroup({
        nc,
        subjectBase: base,
        jobId: 'job',
        generation: 1,
        rank,
        worldSize: 3,
        timeoutMs: 800,
      }),
    ),
  ).catch((e: unknown) => e);
  t.type(err, CollectiveTimeoutError);
  t.same((err as CollectiveTimeoutError).missingRanks, [2], 'names the absent rank');
  t.equal((err as CollectiveTimeoutError).code, 'FLO_TIMEOUT');
  await Promise.all(conns.map((c) => c.close()));
});

t.test('an AbortSignal rejects pending and later operations with CollectiveAbortedError', async (t) => {
  const ranks = await startRanks(server.url, uniquePrefix('abort'), 2, { timeoutMs: 600_000 });
  const [g0, g1] = ranks.groups;
  // rank 1 never joins this allreduce: only the signal can end it (the timeout is 10 minutes)
  const ac = new AbortController();
  const pending = g0.allreduce(new Float32Array(10), { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('step cancelled')), 50);
  const e = await pending.catch((x: unknown) => x);
  t.type(e, CollectiveAbortedError, 'the op rejects');
  t.equal((e as CollectiveAbortedError).code, 'FLO_CANCELLED');
  t.type(await g0.barrier().catch((x: unknown) => x), CollectiveAbortedError, 'the group is unusable afterwards');
  const already = AbortSignal.abort(new Error('gone'));
  t.type(
    await g1.allreduce(new Float32Array(10), { signal: already }).catch((x: unknown) => x),
    CollectiveAbortedError,
    'an already aborted signal rejects at once',
  );
  // a group-wide signal
  await ranks.close();
  const gac = new AbortController();
  const more = await startRanks(server.url, uniquePrefix('abort2'), 2, { timeoutMs: 600_000, signal: gac.signal });
  const p = more.groups[0].allreduce(new Float32Array(10));
  setTimeout(() => gac.abort(), 50);
  t.type(await p.catch((x: unknown) => x), CollectiveAbortedError, 'group signal rejects the pending op');
  t.type(await more.groups[1].allreduce(new Float32Array(10)).catch((x: unknown) => x), CollectiveAbortedError, 'and every later op');
  await more.close();
});

t.test('two jobs running at once do not mix', async (t) => {
  const prefix = uniquePrefix('mix');
  const [a, b] = await Promise.all([
    startRanks(server.url, prefix, 3, { jobId: 'jobA', chunkBytes: 128 }),
    startRanks(server.url, prefix, 3, { jobId: 'jobB', chunkBytes: 128 }),
  ]);
  const da = a.groups.map((_, r) => input(r, 999, 1));
  const db = b.groups.map((_, r) => input(r, 999, 2));
  await Promise.all([
    ...a.groups.map((g, r) => g.allreduce(da[r], { algorithm: 'multicast' })),
    ...b.groups.map((g, r) => g.allreduce(db[r], { algorithm: 'multicast' })),
    ...a.groups.map((g) => g.barrier()),
    ...b.groups.map((g) => g.barrier()),
  ]);
  t.same(
    da.map((d) => firstMismatch(d, expectedSum(3, 999, 1))),
    [-1, -1, -1],
    'job A has its own sum',
  );
  t.same(
    db.map((d) => firstMismatch(d, expectedSum(3, 999, 2))),
    [-1, -1, -1],
    'job B has its own sum',
  );
  await Promise.all([a.close(), b.close()]);
});

t.test('messages of an old generation are ignored', async (t) => {
  const prefix = uniquePrefix('gen');
  const n = 3;
  // the same subject base for both generations, so only the generation in each message separates them
  const base = `${prefix}.shared`;
  const g1 = await startRanks(server.url, prefix, n, { generation: 1, subjectBase: base, chunkBytes: 64 });
  const g2 = await startRanks(server.url, prefix, n, { generation: 2, subjectBase: base, chunkBytes: 64 });
  let stale = 0;
  for (const g of g2.groups)
    g.on('stale', () => {
      stale++;
    });
  // generation 1 (a straggler) runs its allreduce with garbage while generation 2 runs its own
  const old = g1.groups.map(() => new Float32Array(500).fill(1e6));
  const fresh = g2.groups.map((_, r) => input(r, 500));
  await Promise.all([
    ...g1.groups.map((g, r) => g.allreduce(old[r], { algorithm: 'ring' })),
    ...g2.groups.map((g, r) => g.allreduce(fresh[r], { algorithm: 'ring' })),
  ]);
  t.same(
    fresh.map((d) => firstMismatch(d, expectedSum(n, 500))),
    [-1, -1, -1],
    'generation 2 sums only its own data',
  );
  t.ok(stale > 0, `generation 2 dropped ${stale} messages of generation 1`);
  await Promise.all([g1.close(), g2.close()]);
});
