/**
 * The device step against the host step it replaced, bit for bit. The reference is the old
 * loop kept as plain math: every variable's gradient read on its own, accumulate and clip on
 * the flat vector (flatMath), NesterovSgd on the parameters read back and written again, and
 * ModelEma on the state dict read back (optimizer.ts and ema.ts, unchanged, float32 rounded
 * after every operation). Two copies of the same model train on the same batches, through
 * warmup (lr and momentum change every iteration), accumulation and weight decay; parameters,
 * BatchNorm statistics, momentum, EMA and loss items must agree exactly. The BatchNorm running
 * statistics update is compared with the host formula it replaced on its own.
 */
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../worker/engine/backend.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { computeLoss } from '../../worker/engine/loss/index.ts';
import { buildModel } from '../../worker/engine/model/index.ts';
import { BatchNorm2d } from '../../worker/engine/model/conv.ts';
import { DeviceSgd, ModelEma, NesterovSgd, Trainer, emaAveraged, type TrainerOptions } from '../../worker/engine/train/index.ts';
import { clipGradNorm } from '../../worker/engine/train/clip.ts';
import { ParamLayout, parameterGroups } from '../../worker/engine/train/params.ts';
import { accumulateSteps, iterationSettings, scaledWeightDecay } from '../../worker/engine/train/schedule.ts';
import { EMA_KERNEL, NESTEROV_KERNEL, batchNormAct, emaStep, flatMath, jsFlatMath, nesterovStep } from '../../worker/native/index.ts';
import { TINY_YAML, lcg, syntheticBatch } from './train-fixtures.ts';

const IMG = 64,
  BS = 2,
  ITERS = 7;

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length),
    y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

t.test('device step == the host step it replaced, bit for bit', async (t) => {
  const backend = await initBackend();
  t.comment(`backend: ${backend.backend}`);
  const hyp = loadHyp(undefined, { warmup_epochs: 1, weight_decay: 0.005 });
  const opts: TrainerOptions = { hyp, epochs: 2, batchSize: BS, batchesPerEpoch: 4, imgsz: IMG, nbs: 4 };
  const tr = new Trainer(buildModel(TINY_YAML, { seed: 5 }), opts);
  // the reference: the same model, the old host loop
  const ref = buildModel(TINY_YAML, { seed: 5 });
  const layout = new ParamLayout(parameterGroups(ref.namedTensors()));
  const sgd = new NesterovSgd(layout.size, layout.ranges);
  const ema = new ModelEma(ref.stateDict(), 0, { averaged: emaAveraged(ref) });
  const acc = new Float32Array(layout.size),
    grads = new Float32Array(layout.size),
    params = new Float32Array(layout.size);
  const wd = scaledWeightDecay(hyp.weight_decay, BS, 4);
  t.equal(accumulateSteps(BS, 4), 2);
  const schedule = tr.schedule;
  let lastOpt = -1,
    stepped = 0;
  for (let ni = 0; ni < ITERS; ni++) {
    const epoch = Math.floor(ni / opts.batchesPerEpoch);
    const batch = syntheticBatch(ni, BS, IMG);
    tr.counters.epoch = epoch;
    const got = tr.step(batch);
    // reference iteration
    let items = [0, 0, 0];
    tf.tidy(() => {
      const x = tf.tensor4d(batch.images.slice(), [BS, IMG, IMG, 3]);
      const vars = layout.entries.map((e) => e.variable);
      const { grads: g } = tf.variableGrads(() => {
        const l = computeLoss(
          ref.forward(x, { training: true }),
          batch.targets,
          { nc: ref.nc, anchors: ref.anchors, strides: ref.strides, imgsz: IMG },
          hyp,
        );
        items = [l.lbox.dataSync()[0], l.lobj.dataSync()[0], l.lcls.dataSync()[0]];
        return l.total;
      }, vars);
      for (const e of layout.entries) grads.set(g[e.variable.name].dataSync() as Float32Array, e.offset);
    });
    t.same([got.items.box, got.items.obj, got.items.cls], items, `iteration ${ni}: loss items equal`);
    t.ok(sameBits(tr.grads, grads), `iteration ${ni}: gradient bit-identical`);
    flatMath().accumulate(acc, grads);
    const s = iterationSettings(schedule, ni, epoch);
    if (ni - lastOpt >= s.accumulate) {
      const norm = clipGradNorm(acc, 10);
      t.equal(got.gradNorm, norm, `iteration ${ni}: gradient norm`);
      layout.read(params);
      sgd.step(params, acc, { lr: s.lr, momentum: s.momentum, weightDecay: [0, wd, 0] });
      layout.write(params);
      acc.fill(0);
      ema.update(ref.stateDict());
      lastOpt = ni;
      stepped++;
    }
    t.equal(got.stepped, lastOpt === ni, `iteration ${ni}: optimizer step ${lastOpt === ni}`);
  }
  t.ok(stepped >= 3, `${stepped} optimizer steps`);
  const a = tr.model.stateDict(),
    b = ref.stateDict();
  const badModel = [...a].filter(([k, v]) => !sameBits(v, b.get(k)!)).map(([k]) => k);
  t.same(badModel, [], 'parameters and BatchNorm statistics bit-identical');
  const ea = tr.ema.state;
  const badEma = [...ema.state].filter(([k, v]) => !sameBits(v, ea.get(k)!)).map(([k]) => k);
  t.same(badEma, [], 'EMA bit-identical');
  t.same([...ea.keys()], [...ema.state.keys()], 'EMA keys in the state dict order');
  t.equal(tr.ema.updates, ema.updates);
  t.ok(sameBits(tr.optimizer.velocity, sgd.velocity), 'momentum bit-identical');
  t.ok(sameBits(tr.accumulated, acc), 'pending gradient bit-identical');
  t.ok(
    [...a].some(([k, v]) => !sameBits(v, buildModel(TINY_YAML, { seed: 5 }).stateDict().get(k)!)),
    'the model moved',
  );
});

t.test('BatchNorm running statistics on the backend == the host formula they replaced', async (t) => {
  await initBackend();
  const f32 = Math.fround;
  const C = 5;
  const bn = new BatchNorm2d(C);
  const r = lcg(7);
  const rm = new Float32Array(C),
    rv = new Float32Array(C).fill(1);
  for (let k = 0; k < 3; k++) {
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 3 * 4 * C }, () => r() * 4 - 1),
      [2, 3, 4, C],
    );
    // the batch statistics the layer sees, read here only for the reference
    const { mean, variance } = batchNormAct(x, bn.gamma, bn.beta, bn.eps, 'silu');
    const bm = mean.dataSync(),
      bvar = variance.dataSync();
    tf.dispose([mean, variance]);
    tf.tidy(() => {
      bn.applyTrain(x, { training: true, updateRunningStats: true }, 'silu');
    });
    const mf = f32(bn.momentum),
      om = f32(1 - bn.momentum),
      c = f32(24 / 23);
    for (let i = 0; i < C; i++) {
      rm[i] = f32(f32(rm[i] * om) + f32(bm[i] * mf));
      rv[i] = f32(f32(rv[i] * om) + f32(f32(bvar[i] * c) * mf));
    }
    x.dispose();
    t.ok(sameBits(bn.runningMean.dataSync() as Float32Array, rm), `update ${k + 1}: running mean bit-identical`);
    t.ok(sameBits(bn.runningVar.dataSync() as Float32Array, rv), `update ${k + 1}: running variance bit-identical`);
  }
  t.ok(
    rm.some((v) => v !== 0),
    'the statistics moved',
  );
  bn.dispose();
});

t.test('FlotillaNesterov / FlotillaEma: native kernels and composed tfjs ops == flat-math, bit for bit', async (t) => {
  await initBackend();
  const r = lcg(11);
  const n = 1000;
  const rand = (s = 1) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
  const p = rand(),
    g = rand(0.1),
    v = rand(0.05),
    e = rand(),
    m = rand();
  const ranges = [
    { begin: 0, end: 300, group: 0 },
    { begin: 300, end: 900, group: 1 },
    { begin: 900, end: 1000, group: 2 },
  ];
  const lr = [0.07, 0.01, 0.01],
    wd = [0, 0.0005, 0],
    mu = 0.85,
    d = 0.3,
    od = 0.7;
  for (const first of [true, false]) {
    const pe = p.slice(),
      ve = v.slice();
    for (const rg of ranges) jsFlatMath.nesterov(pe, g, ve, rg.begin, rg.end, lr[rg.group], wd[rg.group], mu, first);
    const ee = e.slice();
    jsFlatMath.ema(ee, m, d, od);
    const saved = [NESTEROV_KERNEL, EMA_KERNEL].map((k) => tf.getKernel(k, tf.getBackend())).filter((k) => k !== undefined);
    const paths = saved.length === 2 ? ['native', 'composed'] : ['composed'];
    if (saved.length !== 2) t.comment(`no native flat-step kernels on ${tf.getBackend()}: composed path only`);
    for (const path of paths) {
      if (path === 'composed') for (const k of saved) tf.unregisterKernel(k.kernelName, k.backendName);
      try {
        const [po, vo, eo] = tf.tidy(() => {
          const [a, b] = nesterovStep(
            tf.tensor1d(p),
            tf.tensor1d(g),
            tf.tensor1d(v),
            tf.tensor1d(lr),
            tf.tensor1d(wd),
            tf.tensor1d([mu]),
            ranges,
            first,
            wd.map((w) => w === 0),
          );
          return [a, b, emaStep(tf.tensor1d(e), tf.tensor1d(m), tf.tensor1d([d]), tf.tensor1d([od]))].map((x) =>
            Float32Array.from(x.dataSync()),
          );
        });
        t.ok(sameBits(po, pe), `${path}, first ${first}: parameters`);
        t.ok(sameBits(vo, ve), `${path}, first ${first}: momentum`);
        t.ok(sameBits(eo, ee), `${path}: EMA`);
      } finally {
        if (path === 'composed') for (const k of saved) tf.registerKernel(k);
      }
    }
  }
});

t.test(
  "DeviceSgd on the cpu backend: the step on the variables' own arrays == flat-math over the flat vector, copy on write, nothing leaked",
  async (t) => {
    const backend = await initBackend();
    if (tf.getBackend() !== 'cpu') {
      t.comment(`backend ${backend.backend} is not tfjs cpu: the host path does not apply`);
      return;
    }
    const r = lcg(13);
    const rand = (n: number, s = 1) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
    const shapes = [[3, 4], [5], [2, 2, 2], [7]];
    const sizes = shapes.map((sh) => sh.reduce((a, b) => a * b, 1));
    const size = sizes.reduce((a, b) => a + b, 0);
    const init = sizes.map((n) => rand(n));
    let offset = 0;
    const entries = shapes.map((sh, i) => {
      const e = { name: `v${i}`, variable: tf.variable(tf.tensor(init[i], sh), true, `host-path-${i}`), group: 0, offset, size: sizes[i] };
      offset += sizes[i];
      return e;
    });
    // group boundaries inside variables too (17 and 22 cut v1 and v2), so the per-variable split of the ranges is exercised
    const ranges = [
      { begin: 0, end: 17, group: 0 },
      { begin: 17, end: 22, group: 1 },
      { begin: 22, end: size, group: 2 },
    ];
    const sgd = new DeviceSgd(entries, size, ranges);
    const lr = [0.05, 0.01, 0.02],
      wd = [0, 0.0005, 0],
      mu = 0.9;
    const want = Float32Array.from(init.flatMap((a) => [...a])),
      wantV = new Float32Array(size);
    const held = entries.map((e) => e.variable.dataSync() as Float32Array);
    const heldCopy = held.map((a) => a.slice());
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) {
      const g = rand(size + 9, 0.1);
      for (const rg of ranges) jsFlatMath.nesterov(want, g, wantV, rg.begin, rg.end, lr[rg.group], wd[rg.group], mu, k === 0);
      tf.tidy(() => {
        const up = tf.tensor1d(g);
        sgd.step(up, { lr: tf.tensor1d(lr), weightDecay: tf.tensor1d(wd), momentum: tf.tensor1d([mu]), decayed: wd.map((w) => w !== 0) });
      });
    }
    t.equal(tf.memory().numTensors, before, 'no tensor left behind by three steps');
    const got = new Float32Array(size);
    for (const e of entries) got.set(e.variable.dataSync() as Float32Array, e.offset);
    t.ok(sameBits(got, want), 'parameters bit-identical to flat-math over the flat vector');
    t.ok(sameBits(sgd.velocity, wantV), 'momentum bit-identical');
    t.ok(
      held.every((a, i) => sameBits(a, heldCopy[i])),
      'an array read from a variable before the step is not written by it',
    );
    t.ok(
      entries.every((e) => e.variable.shape.join() === shapes[entries.indexOf(e)].join()),
      'shapes kept',
    );
    sgd.dispose();
    for (const e of entries) e.variable.dispose();
  },
);
