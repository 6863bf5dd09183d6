/**
 * Reproducible sums: with non-integer float32 inputs of mixed magnitude (where the order of
 * addition changes the result), the broker-multicast owners and the hierarchical node leaders
 * add in rank order — exactly ((x0 + x1) + x2) + x3 in float32 — and every algorithm gives the
 * same bits on every repeat.
 */
import t from 'tap';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startRanks } from './kit.ts';
import type { AlgorithmName } from '../../worker/collective/index.ts';

const server = await startNatsServer({ auth: false, jetstream: false });
t.teardown(() => server.stop());

function mixed(rank: number, length: number, salt: number): Float32Array {
  let s = (rank + 1) * 2654435761 + salt * 40503;
  const rnd = () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822519) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
  return Float32Array.from({ length }, () => (rnd() - 0.5) * 10 ** (rnd() * 8 - 2));
}

function rankOrderSum(parts: Float32Array[]): Float32Array {
  const out = Float32Array.from(parts[0]);
  for (const p of parts.slice(1)) for (let i = 0; i < out.length; i++) out[i] += p[i];
  return out;
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

const cases: Array<{ algorithm: AlgorithmName; nodes: string[]; rankOrder: boolean }> = [
  { algorithm: 'multicast', nodes: ['a', 'a', 'a', 'a'], rankOrder: true },
  { algorithm: 'hierarchical', nodes: ['a', 'a', 'a', 'a'], rankOrder: true },
  { algorithm: 'ring', nodes: ['a', 'a', 'a', 'a'], rankOrder: false },
  { algorithm: 'hierarchical', nodes: ['a', 'b', 'a', 'b'], rankOrder: false },
];

for (const c of cases) {
  t.test(`${c.algorithm} over nodes ${c.nodes.join('')}: same bits every time${c.rankOrder ? ', the rank-order sum' : ''}`, async (t) => {
    const n = c.nodes.length,
      length = 1000;
    // chunkBytes 256 → 64 floats per chunk: many chunks in flight, arriving in any order
    const ranks = await startRanks(server.url, uniquePrefix('os'), n, { chunkBytes: 256, nodeOfRank: c.nodes });
    t.teardown(() => ranks.close());
    const inputs = Array.from({ length: n }, (_, r) => mixed(r, length, 7));
    const want = rankOrderSum(inputs);
    const shuffled = rankOrderSum([inputs[3], inputs[1], inputs[0], inputs[2]]);
    t.notOk(bits(want).equals(bits(shuffled)), 'the inputs are ones where the order of addition shows');
    let first: Buffer | undefined;
    for (let rep = 0; rep < 6; rep++) {
      const data = inputs.map((x) => Float32Array.from(x));
      await Promise.all(ranks.groups.map((g, r) => g.allreduce(data[r], { algorithm: c.algorithm })));
      for (let r = 1; r < n; r++) t.ok(bits(data[r]).equals(bits(data[0])), `repeat ${rep}: rank ${r} holds rank 0's result`);
      first ??= Buffer.from(bits(data[0]));
      t.ok(bits(data[0]).equals(first), `repeat ${rep}: the same bits as the first`);
      if (c.rankOrder) t.ok(bits(data[0]).equals(bits(want)), `repeat ${rep}: exactly the rank-order float32 sum`);
    }
  });
}
