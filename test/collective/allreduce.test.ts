import t from 'tap';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { expectedSum, firstMismatch, input, startRanks } from './kit.ts';
import type { AlgorithmName } from '../../worker/collective/index.ts';

const server = await startNatsServer({ auth: false, jetstream: false });
t.teardown(() => server.stop());

const algorithms: AlgorithmName[] = ['ring', 'multicast', 'hierarchical', 'auto'];

t.test('sum is exact for integer-valued float32, worldSize 1..8, odd lengths, every algorithm', async (t) => {
  // chunkBytes 64 → 16 floats per chunk, so these lengths cut into many uneven chunks
  for (const n of [1, 2, 3, 4, 5, 8]) {
    const nodeOfRank = Array.from({ length: n }, (_, r) => `node${r % 2}`);
    const ranks = await startRanks(server.url, uniquePrefix('ar'), n, { chunkBytes: 64, nodeOfRank });
    for (const algorithm of algorithms) {
      for (const length of [0, 1, 3, n - 1, 17, 101, 257]) {
        if (length < 0) continue;
        const data = ranks.groups.map((_, r) => input(r, length));
        await Promise.all(ranks.groups.map((g, r) => g.allreduce(data[r], { algorithm })));
        const want = expectedSum(n, length);
        const bad = data.map((d) => firstMismatch(d, want)).filter((i) => i !== -1);
        t.same(bad, [], `n=${n} ${algorithm} length=${length}`);
      }
    }
    await ranks.close();
  }
});
