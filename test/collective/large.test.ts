// Large buffers (≥ 30 MB). To keep the suite short on a 2-core machine this file runs N = 2 and
// N = 3 ranks: ring in fp32 and multicast in fp16; the other algorithms and
// worldSizes are covered on small buffers in allreduce.test.ts.
import t from 'tap';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startRanks } from './kit.ts';
import type { AlgorithmName } from '../../worker/collective/index.ts';

const server = await startNatsServer({ auth: false, jetstream: false, maxPayload: 8 * 1024 * 1024 });
t.teardown(() => server.stop());

const LEN = 7_864_321; // 31.5 MB of float32, odd, not a multiple of any chunk size

/** rank r, element i: small integers, so fp32 and fp16 sums are exact */
const value = (r: number, i: number): number => ((i * 31 + r * 7) % 23) - 11;

function check(d: Float32Array, n: number): number {
  for (let i = 0; i < d.length; i++) {
    let want = 0;
    for (let r = 0; r < n; r++) want += value(r, i);
    if (d[i] !== want) return i;
  }
  return -1;
}

for (const [n, algorithm, fp16] of [
  [2, 'ring', false],
  [3, 'multicast', true],
] as [number, AlgorithmName, boolean][]) {
  t.test(`31.5 MB, N=${n}, ${algorithm}, ${fp16 ? 'fp16' : 'fp32'}: exact sums`, async (t) => {
    const ranks = await startRanks(server.url, uniquePrefix('big'), n, { timeoutMs: 120_000 });
    const data = ranks.groups.map((_, r) => {
      const a = new Float32Array(LEN);
      for (let i = 0; i < LEN; i++) a[i] = value(r, i);
      return a;
    });
    await Promise.all(ranks.groups.map((g, r) => g.allreduce(data[r], { algorithm, fp16 })));
    t.same(
      data.map((d) => check(d, n)),
      new Array(n).fill(-1),
    );
    await ranks.close();
  });
}
