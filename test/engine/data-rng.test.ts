import t from 'tap';
import { Rng, deriveRng, epochOrder, batchesPerEpoch, batchPositions } from '../../worker/engine/data/index.ts';

t.test('Rng: saved state resumes the same stream; seeds and keys separate streams', async (t) => {
  const a = new Rng(42);
  for (let i = 0; i < 10; i++) a.nextU32();
  const saved = a.getState();
  const next = Array.from({ length: 5 }, () => a.nextU32());
  const b = Rng.fromState(saved);
  t.same(
    Array.from({ length: 5 }, () => b.nextU32()),
    next,
    'restored generator continues identically',
  );
  t.notSame(new Rng(1).nextU32(), new Rng(2).nextU32());
  t.notSame(deriveRng(1, 0, 5).nextU32(), deriveRng(1, 0, 6).nextU32());
  t.notSame(deriveRng(1, 0, 5).nextU32(), deriveRng(1, 5, 0).nextU32(), 'key order matters');
  t.throws(() => new Rng().setState([0, 0, 0, 0]), /not all zero/);
});

t.test('Rng: distributions', async (t) => {
  const r = new Rng(9);
  const n = 20000;
  let sum = 0,
    min = 1,
    max = 0;
  for (let i = 0; i < n; i++) {
    const u = r.random();
    sum += u;
    min = Math.min(min, u);
    max = Math.max(max, u);
  }
  t.ok(Math.abs(sum / n - 0.5) < 0.01 && min >= 0 && max < 1, `uniform mean ${(sum / n).toFixed(4)}`);
  let bs = 0,
    bss = 0;
  for (let i = 0; i < 4000; i++) {
    const x = r.beta(32, 32);
    bs += x;
    bss += x * x;
  }
  const mean = bs / 4000,
    sd = Math.sqrt(bss / 4000 - mean * mean);
  // Beta(32, 32): mean 0.5, sd sqrt(1/(4·65)) = 0.062
  t.ok(Math.abs(mean - 0.5) < 0.006 && Math.abs(sd - 0.062) < 0.006, `beta(32,32) mean ${mean.toFixed(4)} sd ${sd.toFixed(4)}`);
  const p = Array.from(r.permutation(1000)).sort((x, y) => x - y);
  t.same(
    p,
    Array.from({ length: 1000 }, (_, i) => i),
    'permutation holds every index once',
  );
});

t.test('sampler: padded order and positions by hand', async (t) => {
  t.same(Array.from(epochOrder(5, 2, 0, 0, false)), [0, 1, 2, 3, 4, 0], 'wrap-around padding to a multiple of the world size');
  t.equal(batchesPerEpoch(5, 2, 2), 2);
  t.same(batchPositions(5, 2, 0, 2, 0), [0, 1]);
  t.same(batchPositions(5, 2, 1, 2, 0), [2, 3]);
  t.same(batchPositions(5, 2, 0, 2, 1), [4]);
  t.same(batchPositions(5, 2, 1, 2, 1), [5]);
  t.throws(() => batchPositions(5, 2, 0, 2, 2), RangeError);
  const o0 = epochOrder(50, 1, 3, 0, true),
    o1 = epochOrder(50, 1, 3, 1, true);
  t.notSame(Array.from(o0), Array.from(o1), 'a new permutation every epoch');
  t.same(Array.from(epochOrder(50, 1, 3, 0, true)), Array.from(o0), 'the same for the same seed and epoch');
});
