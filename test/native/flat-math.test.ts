// The optimizer loops: native and JavaScript give the same bits on fresh random data.
import t from 'tap';

import { flatMath, jsFlatMath } from '../../worker/native/index.ts';
import { setup } from './harness.ts';

const s = await setup();
const native = flatMath();
if (s.skip !== undefined || !native.native) {
  t.skip(s.skip ?? 'flatMath() fell back to JavaScript', () => {});
} else {
  const n = 100_003;
  const rand = (scale = 1) => Float32Array.from({ length: n }, () => (Math.random() * 2 - 1) * scale * (Math.random() < 0.01 ? 1e-30 : 1));
  const same = (a: Float32Array, b: Float32Array) => {
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `index ${i}: ${a[i]} vs ${b[i]}`;
    return 'identical';
  };

  const acc = rand(),
    g = rand(0.1);
  const acc2 = Float32Array.from(acc);
  native.accumulate(acc, g);
  jsFlatMath.accumulate(acc2, g);
  t.equal(same(acc, acc2), 'identical', 'accumulate');

  t.equal(native.sumSquares(g), jsFlatMath.sumSquares(g), 'sumSquares (float64, index order)');

  const c = 0.3 + Math.random();
  const g1 = Float32Array.from(g),
    g2 = Float32Array.from(g);
  native.scale(g1, c);
  jsFlatMath.scale(g2, c);
  t.equal(same(g1, g2), 'identical', 'scale');

  for (const [wd, first] of [
    [0, true],
    [0.0005 * Math.random(), true],
    [0.0005 * Math.random(), false],
    [0, false],
  ] as const) {
    const p1 = rand(),
      v1 = rand(0.01);
    const p2 = Float32Array.from(p1),
      v2 = Float32Array.from(v1);
    const lr = 0.01 * Math.random(),
      mu = 0.8 + 0.15 * Math.random();
    native.nesterov(p1, g, v1, 17, n - 5, lr, wd, mu, first);
    jsFlatMath.nesterov(p2, g, v2, 17, n - 5, lr, wd, mu, first);
    t.equal(same(p1, p2), 'identical', `nesterov params (wd ${wd > 0 ? '>0' : '0'}, first ${first})`);
    t.equal(same(v1, v2), 'identical', `nesterov velocity (wd ${wd > 0 ? '>0' : '0'}, first ${first})`);
  }
  t.throws(() => native.nesterov(rand(), g, rand(), 0, n + 1, 0.1, 0, 0.9, false), RangeError, 'a range past the end is refused');

  const e1 = rand(),
    m = rand();
  const e2 = Float32Array.from(e1);
  const d = 0.9 + 0.0999 * Math.random();
  native.ema(e1, m, d, 1 - d);
  jsFlatMath.ema(e2, m, d, 1 - d);
  t.equal(same(e1, e2), 'identical', 'ema');
}
