import t from 'tap';
import { NesterovSgd } from '../../worker/engine/train/optimizer.ts';
import {
  accumulateSteps,
  interp,
  iterationSettings,
  lrFactor,
  roundHalfEven,
  scaledWeightDecay,
  warmupIters,
  type ScheduleConfig,
} from '../../worker/engine/train/schedule.ts';
import { ModelEma, emaDecay } from '../../worker/engine/train/ema.ts';
import { clipGradNorm } from '../../worker/engine/train/clip.ts';
import { EarlyStopping, fitness } from '../../worker/engine/train/early-stop.ts';
import { freezePrefixes, isFrozen } from '../../worker/engine/train/freeze.ts';

/** A seeded LCG for test data, independent of the engine's RNGs. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
}

t.test('Nesterov SGD matches a float64 re-derivation of torch.optim.SGD(nesterov=True)', async (t) => {
  const n = 50;
  const rnd = lcg(7);
  const ranges = [
    { begin: 0, end: 10, group: 0 },
    { begin: 10, end: 40, group: 1 },
    { begin: 40, end: 50, group: 2 },
  ];
  const opt = new NesterovSgd(n, ranges);
  const p = Float32Array.from({ length: n }, rnd);
  // Reference state in float64: the "lookahead" form p ← p − lr·((1+μ)·g' + μ²·v_prev) with g' = g + wd·p.
  const pr = Float64Array.from(p);
  const vr = new Float64Array(n);
  const wd = [0, 5e-4, 0];
  for (let step = 0; step < 20; step++) {
    const g = Float32Array.from({ length: n }, () => rnd() * 3);
    const lr = [0.1 - step * 0.004, 0.01 + step * 0.001, 0.02];
    const mu = 0.8 + step * 0.005;
    opt.step(p, g, { lr, momentum: mu, weightDecay: wd });
    for (const r of ranges) {
      for (let i = r.begin; i < r.end; i++) {
        const gg = g[i] + wd[r.group] * pr[i];
        const vPrev = step === 0 ? 0 : vr[i];
        const bufNew = step === 0 ? gg : mu * vPrev + gg;
        pr[i] -= lr[r.group] * (step === 0 ? gg + mu * gg : (1 + mu) * gg + mu * mu * vPrev);
        vr[i] = bufNew;
      }
    }
  }
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(p[i] - pr[i]) / Math.max(1, Math.abs(pr[i])));
  t.ok(worst < 1e-5, `max relative deviation ${worst.toExponential(2)} < 1e-5`);
  for (let i = 0; i < n; i++) t.ok(Math.abs(opt.velocity[i] - vr[i]) <= 1e-4 * Math.max(1, Math.abs(vr[i])), `velocity ${i}`);
});

t.test('Nesterov SGD by hand: one parameter, two steps', async (t) => {
  const opt = new NesterovSgd(1, [{ begin: 0, end: 1, group: 1 }]);
  const p = new Float32Array([1]);
  opt.step(p, new Float32Array([0.5]), { lr: [0, 0.1, 0], momentum: 0.9, weightDecay: [0, 0.1, 0] });
  // g = 0.5 + 0.1·1 = 0.6; v = 0.6; p = 1 − 0.1·(0.6 + 0.54) = 0.886
  t.ok(Math.abs(p[0] - 0.886) < 1e-6, `p after step 1 = ${p[0]}`);
  opt.step(p, new Float32Array([0]), { lr: [0, 0.1, 0], momentum: 0.9, weightDecay: [0, 0.1, 0] });
  // g = 0.0886; v = 0.54 + 0.0886 = 0.6286; p = 0.886 − 0.1·(0.0886 + 0.56574) = 0.820566
  t.ok(Math.abs(p[0] - 0.820566) < 1e-6, `p after step 2 = ${p[0]}`);
});

t.test('schedule helpers', async (t) => {
  t.same([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, -0, -2, 2, 3]);
  t.equal(interp(-1, 0, 10, 1, 2), 1);
  t.equal(interp(5, 0, 10, 1, 2), 1.5);
  t.equal(interp(11, 0, 10, 1, 2), 2);
  t.same(
    [16, 24, 32, 64, 128, 8, 3].map((b) => accumulateSteps(b)),
    [4, 3, 2, 1, 1, 8, 21],
  );
  t.ok(Math.abs(scaledWeightDecay(5e-4, 16) - 5e-4) < 1e-15);
  t.ok(Math.abs(scaledWeightDecay(5e-4, 24) - (5e-4 * 72) / 64) < 1e-15);
  t.equal(warmupIters(3, 10), 100);
  t.equal(warmupIters(3, 1000), 3000);
  t.equal(warmupIters(0, 1000), 0);
  t.equal(lrFactor('linear', 0, 10, 0.01), 1);
  t.ok(Math.abs(lrFactor('linear', 10, 10, 0.01) - 0.01) < 1e-15);
  t.ok(Math.abs(lrFactor('linear', 5, 10, 0.01) - 0.505) < 1e-15);
  t.ok(Math.abs(lrFactor('cosine', 0, 10, 0.01) - 1) < 1e-15);
  t.ok(Math.abs(lrFactor('cosine', 5, 10, 0.01) - 0.505) < 1e-12);
  t.ok(Math.abs(lrFactor('cosine', 10, 10, 0.01) - 0.01) < 1e-12);
});

t.test('warmup: lr, momentum and accumulate ramp as in train.py', async (t) => {
  const cfg: ScheduleConfig = {
    kind: 'linear',
    epochs: 10,
    lr0: 0.01,
    lrf: 0.01,
    momentum: 0.937,
    warmupMomentum: 0.8,
    warmupBiasLr: 0.1,
    nw: 100,
    batchesPerEpoch: 40,
    batchSize: 16,
  };
  const s0 = iterationSettings(cfg, 0, 0);
  t.same(s0, { lr: [0.1, 0, 0], momentum: 0.8, accumulate: 1 });
  const s50 = iterationSettings(cfg, 50, 1);
  const base1 = 0.01 * ((1 - 1 / 10) * 0.99 + 0.01);
  t.ok(Math.abs(s50.lr[0] - (0.1 + base1) / 2) < 1e-15, 'bias lr halfway down');
  t.ok(Math.abs(s50.lr[1] - base1 / 2) < 1e-15, 'weight lr halfway up');
  t.ok(Math.abs(s50.momentum - (0.8 + 0.937) / 2) < 1e-15);
  t.equal(s50.accumulate, 2, 'round(1 + 0.5·3) = round(2.5) = 2');
  t.equal(iterationSettings(cfg, 84, 0).accumulate, 4, 'round(3.52) = 4');
  const after = iterationSettings(cfg, 121, 3);
  const base2 = 0.01 * ((1 - 2 / 10) * 0.99 + 0.01);
  t.same(after, { lr: [base2, base2, base2], momentum: 0.937, accumulate: 4 }, 'epoch 3 trains at lf(2), as train.py');
  t.same(iterationSettings({ ...cfg, nw: 0 }, 0, 0).lr, [0.01, 0.01, 0.01]);
});

t.test('EMA follows d = 0.9999(1 − exp(−u/2000)) on every tensor', async (t) => {
  const m0 = new Map([
    ['a', new Float32Array([1, 2])],
    ['bn.running_var', new Float32Array([4])],
  ]);
  const ema = new ModelEma(m0);
  m0.get('a')![0] = 100; // the EMA holds a copy
  t.equal(ema.state.get('a')![0], 1);
  const ref = [1, 2, 4];
  for (let u = 1; u <= 5; u++) {
    const m = new Map([
      ['a', new Float32Array([u, -u])],
      ['bn.running_var', new Float32Array([10 * u])],
    ]);
    ema.update(m);
    const d = 0.9999 * (1 - Math.exp(-u / 2000));
    const cur = [u, -u, 10 * u];
    for (let k = 0; k < 3; k++) ref[k] = d * ref[k] + (1 - d) * cur[k];
  }
  t.equal(ema.updates, 5);
  t.ok(Math.abs(emaDecay(2000) - 0.9999 * (1 - Math.exp(-1))) < 1e-15);
  const got = [...ema.state.get('a')!, ...ema.state.get('bn.running_var')!];
  for (let k = 0; k < 3; k++) t.ok(Math.abs(got[k] - ref[k]) < 1e-5 * Math.max(1, Math.abs(ref[k])), `ema[${k}] ${got[k]} ≈ ${ref[k]}`);
});

t.test('gradient clipping by global norm', async (t) => {
  const g = new Float32Array([3, 4, 0]);
  t.equal(clipGradNorm(g, 10), 5);
  t.same([...g], [3, 4, 0], 'under the limit: untouched');
  const h = new Float32Array([30, 40, 0, 0]);
  t.equal(clipGradNorm(h, 10), 50);
  t.ok(Math.abs(Math.hypot(...h) - 10) < 1e-4, `norm after clip ${Math.hypot(...h)}`);
  t.ok(Math.abs(h[0] / h[1] - 0.75) < 1e-6, 'direction kept');
});

t.test('early stopping and fitness', async (t) => {
  const es = new EarlyStopping(3);
  const f = [0.1, 0.2, 0.15, 0.19, 0.2, 0.1, 0.1, 0.1];
  const stops = f.map((x, e) => es.update(e, x));
  // best 0.2 at epoch 1, then ties at epoch 4 (>= counts) → stop at epoch 7
  t.same(stops, [false, false, false, false, false, false, false, true]);
  t.equal(es.bestEpoch, 4);
  t.ok(Math.abs(fitness({ mp: 1, mr: 1, map50: 0.5, map: 0.3 }) - 0.32) < 1e-12);
  t.notOk(new EarlyStopping(0).update(1000, 0), 'patience 0 never stops');
});

t.test('freeze prefixes as --freeze', async (t) => {
  t.same(freezePrefixes([3]), ['model.0.', 'model.1.', 'model.2.']);
  t.same(freezePrefixes([0]), []);
  t.same(freezePrefixes([]), []);
  t.same(freezePrefixes([1, 4]), ['model.1.', 'model.4.']);
  t.ok(isFrozen('model.1.conv.weight', freezePrefixes([2])));
  t.notOk(isFrozen('model.10.conv.weight', freezePrefixes([2])), 'model.1 does not freeze model.10');
});
