import t from 'tap';
import { batchRows, generateDataset, gradientSums, Rng, encodeLogregState, decodeLogregState } from '../../worker/trainers/index.ts';

/** Float64 loss sum of the batch, the obvious way. */
function lossSum(x: Float32Array, y: Float32Array, f: number, rows: number[], p: Float64Array): number {
  let s = 0;
  for (const i of rows) {
    let z = p[f];
    for (let j = 0; j < f; j++) z += p[j] * x[i * f + j];
    const q = 1 / (1 + Math.exp(-z));
    s += -(y[i] * Math.log(q) + (1 - y[i]) * Math.log(1 - q));
  }
  return s;
}

t.test('gradient sums match central differences of the float64 loss', async (t) => {
  const f = 5;
  const d = generateDataset(3, 40, f);
  const rows = batchRows(3, 1, d.n, 12, 1, 3);
  const params = Float32Array.from([0.3, -0.2, 0.1, 0.5, -0.4, 0.05]);
  const out = new Float32Array(f + 3);
  gradientSums(d, params, rows, out);
  const p64 = Float64Array.from(params);
  t.ok(Math.abs(out[f + 1] - lossSum(d.x, d.y, f, rows, p64)) < 1e-4, 'loss sum');
  t.equal(out[f + 2], rows.length, 'count');
  const h = 1e-6;
  for (let j = 0; j <= f; j++) {
    const a = Float64Array.from(p64);
    a[j] += h;
    const b = Float64Array.from(p64);
    b[j] -= h;
    const num = (lossSum(d.x, d.y, f, rows, a) - lossSum(d.x, d.y, f, rows, b)) / (2 * h);
    t.ok(Math.abs(out[j] - num) < 1e-3 * Math.max(1, Math.abs(num)), `d/dp${j}: ${out[j]} vs ${num}`);
  }
});

t.test("a step's global batch is the same for every world size; the rng is reproducible from its state", async (t) => {
  const whole = batchRows(9, 5, 100, 12, 0, 1);
  t.equal(whole.length, 12);
  t.ok(
    whole.every((r) => r >= 0 && r < 100),
    'rows of the dataset',
  );
  for (const k of [2, 3, 4]) {
    const parts = Array.from({ length: k }, (_, r) => batchRows(9, 5, 100, 12, r, k));
    t.same(
      parts.flat().sort((a, b) => a - b),
      [...whole].sort((a, b) => a - b),
      `${k} ranks split the same 12 rows`,
    );
  }
  t.not(batchRows(9, 6, 100, 12, 0, 1).join(), whole.join(), 'another step, another batch');
  const a = Rng.derive(42, 1, 7);
  const first = [a.next(), a.next(), a.next()];
  t.ok(first.every((v) => v >= 0 && v < 1));
  const b = new Rng(Rng.derive(42, 1, 7).state());
  t.same([b.next(), b.next(), b.next()], first, 'same state, same stream');
  t.not(Rng.derive(42, 1, 8).next(), first[0], 'another key, another stream');
  const mean = Array.from({ length: 4000 }, () => a.next()).reduce((s, v) => s + v, 0) / 4000;
  t.ok(Math.abs(mean - 0.5) < 0.03, `roughly uniform (mean ${mean})`);
});

t.test('logreg state round-trips bit-exactly', async (t) => {
  const params = Float32Array.from([Math.PI, -1e-7, 123456.789, 0]);
  const back = decodeLogregState(encodeLogregState({ step: 17, params, samplerSeed: 99 }));
  t.equal(back.step, 17);
  t.same(Array.from(back.params), Array.from(params));
  t.throws(() => decodeLogregState(new TextEncoder().encode('{"format":"x"}')), { code: 'FLO_CHECKPOINT_CORRUPT' });
});
