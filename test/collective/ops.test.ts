import t from 'tap';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { expectedSum, firstMismatch, input, startRanks } from './kit.ts';
import { decodeHalf, encodeHalf, floatToHalf, type AlgorithmName } from '../../worker/collective/index.ts';

const server = await startNatsServer({ auth: false, jetstream: false });
t.teardown(() => server.stop());

t.test('worldSize 1: every operation is a no-op that completes', async (t) => {
  const ranks = await startRanks(server.url, uniquePrefix('one'), 1);
  const g = ranks.groups[0];
  const d = input(0, 33);
  const before = d.slice();
  await g.allreduce(d);
  await g.allreduce(d, { op: 'mean', fp16: true });
  t.same(firstMismatch(d, before), -1, 'allreduce leaves the data as it is');
  await g.broadcast(d, 0);
  await g.barrier();
  const all = await g.allgather(d);
  t.equal(all.length, 1);
  t.same(firstMismatch(all[0], before), -1);
  await ranks.close();
});

t.test('mean divides the sum by worldSize', async (t) => {
  const n = 4;
  const ranks = await startRanks(server.url, uniquePrefix('mean'), n, { chunkBytes: 256 });
  for (const algorithm of ['ring', 'multicast'] as AlgorithmName[]) {
    const data = ranks.groups.map((_, r) => input(r, 1000));
    await Promise.all(ranks.groups.map((g, r) => g.allreduce(data[r], { op: 'mean', algorithm })));
    const want = Float32Array.from(expectedSum(n, 1000), (x) => x / n);
    t.same(
      data.map((d) => firstMismatch(d, want, 1e-6)),
      [-1, -1, -1, -1],
      algorithm,
    );
  }
  await ranks.close();
});

t.test('fp16 codec: round-to-nearest-even, exact decode, overflow and specials', async (t) => {
  t.equal(floatToHalf(1), 0x3c00);
  t.equal(floatToHalf(-2), 0xc000);
  t.equal(floatToHalf(65504), 0x7bff);
  t.equal(floatToHalf(65520), 0x7c00, 'rounds up to +Inf');
  t.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'tie goes to even');
  t.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02, 'tie goes to even (up)');
  t.equal(floatToHalf(2 ** -24), 0x0001, 'smallest subnormal');
  t.equal(floatToHalf(2 ** -26), 0x0000, 'underflows to zero');
  t.equal(floatToHalf(Infinity), 0x7c00);
  t.ok((floatToHalf(NaN) & 0x7c00) === 0x7c00 && (floatToHalf(NaN) & 0x3ff) !== 0, 'NaN stays NaN');
  // every half round-trips through float32 exactly
  const halves = new Uint16Array(65536).map((_, i) => i);
  const f = new Float32Array(65536);
  decodeHalf(halves, f);
  const back = new Uint16Array(65536);
  encodeHalf(f, back);
  let bad = 0;
  for (let i = 0; i < 65536; i++) if (back[i] !== i && !Number.isNaN(f[i])) bad++;
  t.equal(bad, 0, 'decode then encode is the identity on non-NaN halves');
  // the relative error of a normal value is at most 2^-11
  let worst = 0;
  for (let i = 0; i < 10000; i++) {
    const x = (Math.random() - 0.5) * 2 ** (Math.random() * 20 - 8);
    const h = new Uint16Array([floatToHalf(x)]);
    const y = new Float32Array(1);
    decodeHalf(h, y);
    if (Math.abs(x) > 2 ** -14) worst = Math.max(worst, Math.abs(y[0] - x) / Math.abs(x));
  }
  t.ok(worst <= 2 ** -11, `worst relative error ${worst}`);
});

t.test('fp16 on the wire: exact for small integers, within rounding for reals, identical on every rank', async (t) => {
  const n = 3;
  const ranks = await startRanks(server.url, uniquePrefix('h'), n, { chunkBytes: 100, nodeOfRank: ['a', 'a', 'b'] });
  for (const algorithm of ['ring', 'multicast', 'hierarchical'] as AlgorithmName[]) {
    const ints = ranks.groups.map((_, r) => input(r, 333));
    await Promise.all(ranks.groups.map((g, r) => g.allreduce(ints[r], { algorithm, fp16: true })));
    const want = expectedSum(n, 333);
    t.same(
      ints.map((d) => firstMismatch(d, want)),
      [-1, -1, -1],
      `${algorithm}: integer sums below 2048 are exact`,
    );

    const reals = ranks.groups.map(() => Float32Array.from({ length: 999 }, () => Math.random() * 2 - 1));
    const exact = new Float64Array(999);
    for (const d of reals)
      d.forEach((x, i) => {
        exact[i] += x;
      });
    await Promise.all(ranks.groups.map((g, r) => g.allreduce(reals[r], { algorithm, fp16: true })));
    // every partial sum is at most n in magnitude, so each of the ≤ n roundings costs ≤ n·2^-11
    const tol = n * n * 2 ** -11;
    t.equal(firstMismatch(reals[0], exact, tol), -1, `${algorithm}: within ${tol} of the float64 sum`);
    t.same(
      reals.map((d) => firstMismatch(d, reals[0])),
      [-1, -1, -1],
      `${algorithm}: every rank has the same result`,
    );
  }
  await ranks.close();
});

t.test('several data connections per rank (lanes) carry the chunks', async (t) => {
  const n = 3;
  const ranks = await startRanks(server.url, uniquePrefix('lanes'), n, { lanes: 3, chunkBytes: 128 });
  for (const algorithm of ['ring', 'multicast'] as AlgorithmName[]) {
    const data = ranks.groups.map((_, r) => input(r, 5000, 1));
    await Promise.all(ranks.groups.map((g, r) => g.allreduce(data[r], { algorithm })));
    const want = expectedSum(n, 5000, 1);
    t.same(
      data.map((d) => firstMismatch(d, want)),
      [-1, -1, -1],
      algorithm,
    );
  }
  await ranks.close();
});

t.test('broadcast from any root, allgather of unequal lengths, barrier', async (t) => {
  const n = 4;
  const ranks = await startRanks(server.url, uniquePrefix('bc'), n, { chunkBytes: 64 });
  for (const root of [0, 3]) {
    const data = ranks.groups.map((_, r) => input(r, 77, root));
    const want = data[root].slice();
    await Promise.all(ranks.groups.map((g, r) => g.broadcast(data[r], root)));
    t.same(
      data.map((d) => firstMismatch(d, want)),
      [-1, -1, -1, -1],
      `root ${root}`,
    );
  }
  const lens = [0, 5, 16, 41];
  const mine = ranks.groups.map((_, r) => input(r, lens[r], 9));
  const got = await Promise.all(ranks.groups.map((g, r) => g.allgather(mine[r])));
  for (let r = 0; r < n; r++) {
    t.same(
      got[r].map((a) => a.length),
      lens,
      `rank ${r} gets every length`,
    );
    t.same(
      got[r].map((a, p) => firstMismatch(a, mine[p])),
      [-1, -1, -1, -1],
      `rank ${r} gets every buffer`,
    );
  }
  // a barrier does not complete on any rank before every rank entered it
  const entered: number[] = [];
  const done: number[] = [];
  await Promise.all(
    ranks.groups.map(async (g, r) => {
      await new Promise((res) => setTimeout(res, r * 30));
      entered.push(r);
      await g.barrier();
      done.push(entered.length);
    }),
  );
  t.same(done, [n, n, n, n], 'every rank left the barrier after all had entered');
  await ranks.close();
});

t.test('operations issued without awaiting overlap correctly', async (t) => {
  const n = 3;
  const ranks = await startRanks(server.url, uniquePrefix('ovl'), n, { chunkBytes: 128 });
  const bufs = [0, 1, 2, 3].map((salt) => ranks.groups.map((_, r) => input(r, 300 + salt, salt)));
  await Promise.all(
    ranks.groups.map((g, r) => Promise.all(bufs.map((b, k) => g.allreduce(b[r], { algorithm: k % 2 ? 'ring' : 'multicast' })))),
  );
  bufs.forEach((b, salt) => {
    const want = expectedSum(n, 300 + salt, salt);
    t.same(
      b.map((d) => firstMismatch(d, want)),
      [-1, -1, -1],
      `bucket ${salt}`,
    );
  });
  await ranks.close();
});

t.test('the caller may overwrite its buffer the moment an operation resolves (large buffers, writes still queued)', async (t) => {
  const n = 3;
  const len = 2_000_000; // 8 MB: more than the socket buffers hold, so sends complete asynchronously
  const ranks = await startRanks(server.url, uniquePrefix('own'), n, { lanes: 2 });
  for (const algorithm of ['ring', 'multicast', 'hierarchical'] as AlgorithmName[]) {
    for (const op of ['sum', 'mean'] as const) {
      const data = ranks.groups.map((_, r) => input(r, len, 3));
      const results = await Promise.all(
        ranks.groups.map(async (g, r) => {
          await g.allreduce(data[r], { algorithm, op });
          const copy = data[r].slice();
          data[r].fill(Number.NaN); // at once, as a trainer zeroing its gradients would
          return copy;
        }),
      );
      const want = Float32Array.from(expectedSum(n, len, 3), (x) => (op === 'mean' ? x / n : x));
      t.same(
        results.map((d) => firstMismatch(d, want, 1e-6)),
        [-1, -1, -1],
        `${algorithm} ${op}`,
      );
    }
  }
  const root = new Float32Array(len).fill(5);
  const others = [1, 2].map(() => new Float32Array(len));
  await Promise.all([
    ranks.groups[0].broadcast(root, 0).then(() => root.fill(-1)),
    ranks.groups[1].broadcast(others[0], 0),
    ranks.groups[2].broadcast(others[1], 0),
  ]);
  t.same(
    others.map((d) => firstMismatch(d, new Float32Array(len).fill(5))),
    [-1, -1],
    'broadcast from a root that overwrites at once',
  );
  await ranks.close();
});
