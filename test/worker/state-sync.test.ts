/**
 * The state agreement of a (re)formed gang (worker/actor/state-sync.ts) on a real nats-server,
 * ranks as groups in this process: who sends, who receives, bytes equal to the donor's, slices
 * from identical donors, the checkpoint when nobody holds a state or a received state does not
 * match its digest (bytes flipped on the way, by a group wrapper around the real one).
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { syncState, sliceRange, type LocalState, type SyncResult } from '../../worker/actor/state-sync.ts';
import type { Group } from '../../worker/collective/index.ts';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startRanks } from '../collective/kit.ts';

const server = await startNatsServer({ auth: false, jetstream: false });
t.teardown(() => server.stop());

/** `n` bytes of a seeded pattern (not a multiple of 4, so the padding is exercised). */
function bytesOf(seed: number, n = 200_003): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
const state = (step: number, bytes: Uint8Array): LocalState => ({ step, encode: () => bytes });
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function agree(n: number, mine: (rank: number) => LocalState | null, wrap: (g: Group) => Group = (g) => g): Promise<SyncResult[]> {
  const ranks = await startRanks(server.url, uniquePrefix('ss'), n);
  try {
    return await Promise.all(ranks.groups.map((g) => syncState(wrap(g), mine(g.rank))));
  } finally {
    await ranks.close();
  }
}

t.test("a replacement receives the survivors' state, sliced over identical donors", async (t) => {
  const bytes = bytesOf(1);
  const r = await agree(3, (rank) => (rank === 1 ? null : state(42, bytes)));
  t.match(r[0], { source: 'self', step: 42 });
  t.match(r[2], { source: 'self', step: 42 });
  const got = r[1];
  t.equal(got.source, 'peer');
  if (got.source !== 'peer') return;
  t.equal(got.step, 42);
  t.same(got.donors, [0, 2], 'both donors sent a slice');
  t.equal(sha(got.bytes), sha(bytes), "the bytes are the donors', bit for bit");
  t.equal(got.sha256, sha(bytes));
  t.same(
    [r[0], r[2]].map((x) => x.source === 'self' && x.sha256),
    [sha(bytes), sha(bytes)],
    'the donors return the digest they sent (no second hash of their state)',
  );
});

t.test('a survivor behind the others (its last allreduce failed) takes the newest state; donors that differ: one sends', async (t) => {
  const newest = bytesOf(2),
    other = bytesOf(3),
    old = bytesOf(4);
  const r = await agree(3, (rank) => (rank === 0 ? state(10, old) : state(11, rank === 1 ? newest : other)));
  t.equal(r[0].source, 'peer');
  if (r[0].source !== 'peer') return;
  t.same(r[0].donors, [1], 'only the lowest donor: the other holds different bytes');
  t.equal(sha(r[0].bytes), sha(newest));
  t.same(
    r.slice(1).map((x) => x.source),
    ['self', 'self'],
  );
});

t.test('nobody holds a state, or everybody is at the same step', async (t) => {
  t.same(
    (await agree(2, () => null)).map((x) => x.source),
    ['checkpoint', 'checkpoint'],
    'every rank loads the checkpoint',
  );
  t.same(
    (await agree(2, (rank) => state(7, bytesOf(rank)))).map((x) => x.source),
    ['self', 'self'],
    'nothing to send',
  );
});

t.test('a state corrupted on the way: every rank is told to load the checkpoint', async (t) => {
  // rank 1's view of the transfer (the third allgather) has one byte flipped
  const flip = (g: Group): Group => {
    if (g.rank !== 1) return g;
    let calls = 0;
    return new Proxy(g, {
      get(target, prop, recv) {
        if (prop !== 'allgather') return Reflect.get(target, prop, recv);
        return async (data: Float32Array) => {
          const out = await target.allgather(data);
          if (++calls === 3) new Uint8Array(out[0].buffer, out[0].byteOffset, out[0].byteLength)[1000] ^= 0xff;
          return out;
        };
      },
    });
  };
  const r = await agree(2, (rank) => (rank === 0 ? state(5, bytesOf(9)) : null), flip);
  t.same(
    r.map((x) => x.source),
    ['checkpoint', 'checkpoint'],
    'the donor is told as well, so the gang does not split',
  );
  t.match(r[0], { reason: /SHA-256/ });
});

t.test('the generation that applied the agreed step travels with it (rank 0 re-reports that step, step-report.ts)', async (t) => {
  const bytes = bytesOf(5);
  const r = await agree(3, (rank) => (rank === 0 ? null : { step: 70_000, appliedIn: 70_001, encode: () => bytes }));
  t.same(
    r.map((x) => (x.source === 'checkpoint' ? undefined : [x.source, x.step, x.appliedIn])),
    [
      ['peer', 70_000, 70_001],
      ['self', 70_000, 70_001],
      ['self', 70_000, 70_001],
    ],
    'receiver and donors alike (steps and generations past 16 bits)',
  );
  const fromCkpt = await agree(2, (rank) => (rank === 0 ? null : state(8, bytes)));
  t.same(
    fromCkpt.map((x) => x.source !== 'checkpoint' && x.appliedIn),
    [undefined, undefined],
    'a state loaded from a checkpoint carries no generation',
  );
  const behind = await agree(2, (rank) =>
    rank === 0 ? { step: 8, appliedIn: 2, encode: () => bytesOf(6) } : { step: 9, appliedIn: 2, encode: () => bytes },
  );
  t.same(
    behind.map((x) => x.source !== 'checkpoint' && [x.source, x.appliedIn]),
    [
      ['peer', 2],
      ['self', 2],
    ],
    "a rank behind takes the donors' generation",
  );
});

t.test('slices cover the bytes once, aligned to 4', async (t) => {
  for (const [len, k] of [
    [10, 3],
    [200_003, 2],
    [8, 4],
    [5, 1],
  ] as const) {
    const parts = Array.from({ length: k }, (_, i) => sliceRange(len, i, k));
    t.equal(parts[0][0], 0);
    t.equal(parts.at(-1)![1], len, `${len} bytes in ${k}: the last slice ends at the end`);
    for (let i = 1; i < k; i++) t.equal(parts[i][0], parts[i - 1][1], 'contiguous');
    t.ok(
      parts.every(([a]) => a % 4 === 0),
      'aligned',
    );
  }
});
