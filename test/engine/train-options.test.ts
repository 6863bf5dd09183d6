/**
 * train.py options in the one training loop: --label-smoothing (the class targets of the loss),
 * --single-cls (the dataset as one class, end to end through a run), --save-period (epochN
 * checkpoints), --optimizer Adam|AdamW (the step against torch's formulas, the checkpoint state,
 * an exact resume); each through `flotilla train`'s session options and the job spec's fields.
 */
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Yolov5Trainer } from '../../shared/schemas/job.ts';
import { initBackend } from '../../worker/engine/backend.ts';
import { loadCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { generateSyntheticDataset, loadDataset } from '../../worker/engine/data/index.ts';
import { hypOverridesWith, loadHyp } from '../../worker/engine/hyp/index.ts';
import { computeLoss, lossGains } from '../../worker/engine/loss/index.ts';
import { trainSession, type SessionEvent } from '../../worker/engine/train/index.ts';
import { TINY_YAML } from './train-fixtures.ts';

const softplus = (x: number) => Math.log1p(Math.exp(x));

/**
 * The class loss with every class logit equal to `c`: each assigned row has one target cp and
 * nc−1 targets cn, so the mean BCE is softplus(c) − c·(cp + (nc−1)·cn)/nc on every level that has targets.
 */
function clsLossConstantLogits(eps: number, nc: number, c: number): { got: number; want: number } {
  const hyp = loadHyp(undefined, hypOverridesWith({}, { labelSmoothing: eps }));
  const na = 3,
    ny = 8,
    nx = 8,
    no = nc + 5;
  const anchors = [
    [
      [1, 1],
      [2, 2],
      [3, 3],
    ],
  ];
  const preds = [tf.tidy(() => tf.concat([tf.zeros([1, na, ny, nx, 5]), tf.fill([1, na, ny, nx, nc], c)], 4))];
  const targets = Float32Array.from([0, 2, 0.4, 0.6, 0.2, 0.2, 0, 0, 0.7, 0.3, 0.15, 0.25]);
  const r = computeLoss(preds, targets, { nc, anchors, strides: [8], imgsz: 64 }, hyp);
  const got = r.lcls.dataSync()[0];
  tf.dispose([preds, r.total, r.lbox, r.lobj, r.lcls]);
  const cp = 1 - 0.5 * eps,
    cn = 0.5 * eps;
  const want = lossGains(hyp, nc, 1, 64).cls * (softplus(c) - (c * (cp + (nc - 1) * cn)) / nc);
  return { got, want };
}

t.test('--label-smoothing: class targets 1 − ε/2 and ε/2 in the loss', async (t) => {
  await tf.setBackend('cpu');
  for (const c of [2, -2]) {
    for (const eps of [0, 0.1, 0.4]) {
      const { got, want } = clsLossConstantLogits(eps, 4, c);
      t.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want), `logits ${c}, eps ${eps}: lcls ${got} ≈ ${want}`);
    }
  }
  // confident negatives (logit −2 on 3 of 4 classes) are penalised once their target is ε/2
  const a = clsLossConstantLogits(0, 4, -2).got,
    b = clsLossConstantLogits(0.4, 4, -2).got;
  t.ok(b > a, `smoothing raises the loss of confident negative logits (${b} > ${a})`);
  // the flag wins over a hyp override, in the CLI's path and the job's
  t.equal(loadHyp(undefined, hypOverridesWith({ label_smoothing: 0.3 }, { labelSmoothing: 0.1 })).label_smoothing, 0.1);
  t.equal(loadHyp(undefined, hypOverridesWith({ label_smoothing: 0.3 }, {})).label_smoothing, 0.3);
  const spec = Yolov5Trainer.parse({ kind: 'yolov5', label_smoothing: 0.2 });
  t.equal(loadHyp(undefined, hypOverridesWith(spec.hyp, { labelSmoothing: spec.label_smoothing })).label_smoothing, 0.2, 'job spec field');
  t.notOk(Yolov5Trainer.safeParse({ kind: 'yolov5', label_smoothing: 1.5 }).success, 'epsilon above 1 is refused');
});

t.test('--single-cls: one class through the dataset and a whole run', async (t) => {
  const backend = await initBackend();
  t.comment(`backend: ${backend.backend}`);
  const dir = mkdtempSync(join(tmpdir(), 'train-options-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ds = await generateSyntheticDataset({
    dir: join(dir, 'ds'),
    train: 8,
    val: 4,
    img: 64,
    seed: 5,
    classes: ['circle', 'square'],
    objects: [2, 3],
    backgroundFraction: 0,
  });
  const multi = await loadDataset(ds.yamlPath, 'train');
  const classesOf = (items: { labels: Float32Array }[]) =>
    new Set(items.flatMap((i) => Array.from(i.labels).filter((_, k) => k % 5 === 0)));
  t.same([...classesOf(multi.items)].sort(), [0, 1], 'the dataset has both classes');
  const one = await loadDataset(ds.yamlPath, 'train', { singleCls: true });
  t.equal(one.nc, 1);
  t.same(one.names, ['item']);
  t.same([...classesOf(one.items)], [0], 'every label is class 0');
  t.same(
    one.items.map((i) => i.labels.length),
    multi.items.map((i) => i.labels.length),
    'no box lost',
  );
  // a dataset with one name keeps it (train.py: names = {0: 'item'} only when len(names) != 1)
  const solo = await generateSyntheticDataset({
    dir: join(dir, 'solo'),
    train: 2,
    val: 2,
    img: 64,
    seed: 6,
    classes: ['circle'],
    objects: [1, 2],
    backgroundFraction: 0,
  });
  const soloOne = await loadDataset(solo.yamlPath, 'val', { singleCls: true });
  t.same([soloOne.nc, soloOne.names], [1, ['circle']]);

  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  const events: SessionEvent[] = [];
  const r = await trainSession({
    data: ds.yamlPath,
    cfg,
    img: 64,
    epochs: 1,
    batch: 4,
    nbs: 4,
    project: dir,
    name: 'one',
    singleCls: true,
    noAutoanchor: true,
    noPlots: true,
    onEvent: (e) => events.push(e),
  });
  const start = events.find((e) => e.type === 'start');
  t.ok(start && start.type === 'start' && start.nc === 1 && start.names.join() === 'item', 'the run trains one class named item');
  const ck = loadCheckpoint(r.lastPath);
  t.equal(ck.meta.nc, 1, 'checkpoint: nc 1');
  t.equal(ck.meta.singleCls, true, 'checkpoint records single-cls (a resume keeps it)');
  // TINY_YAML's Detect is layer 11: one output conv per level, na·(5 + nc) channels
  const heads = [...ck.tensors.entries()].filter(([k]) => /^model\/model\.11\.m\.\d+\.bias$/.test(k));
  t.equal(heads.length, 2, `Detect output biases found (${heads.map(([k]) => k).join(', ')})`);
  for (const [k, v] of heads) t.same(v.shape, [3 * 6], `${k}: 3 anchors × (5 + 1 class)`);
  t.ok(Yolov5Trainer.parse({ kind: 'yolov5', single_cls: true }).single_cls, 'job spec field');
});

t.test('--save-period: weights/epochN.ckpt after every N-th epoch, as train.py', async (t) => {
  await initBackend();
  const dir = mkdtempSync(join(tmpdir(), 'train-period-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  const events: SessionEvent[] = [];
  const r = await trainSession({
    data: 'synthetic',
    cfg,
    img: 64,
    epochs: 3,
    batch: 4,
    nbs: 4,
    synthTrain: 4,
    synthVal: 2,
    synthOptions: { classes: ['circle', 'square'], objects: [1, 2] },
    project: dir,
    name: 'period',
    noAutoanchor: true,
    noPlots: true,
    noVal: true,
    savePeriod: 2,
    onEvent: (e) => events.push(e),
  });
  const weights = join(r.saveDir, 'weights');
  // train.py: epoch % save_period == 0 with 0-based epochs → epoch0 and epoch2 of 0..2
  t.same(
    readdirSync(weights)
      .filter((f) => f.startsWith('epoch'))
      .sort(),
    ['epoch0.ckpt', 'epoch2.ckpt'],
  );
  const periodic = events.filter((e) => e.type === 'checkpoint' && e.kind === 'epoch').map((e) => (e.type === 'checkpoint' ? e.path : ''));
  t.same(periodic, [join(weights, 'epoch0.ckpt'), join(weights, 'epoch2.ckpt')], 'one event per kept checkpoint');
  const e0 = loadCheckpoint(join(weights, 'epoch0.ckpt')).meta.fit as { cursor: { epoch: number } };
  t.equal(e0.cursor.epoch, 1, 'epoch0.ckpt holds the state after epoch 0 (a resume continues at epoch 1)');
  t.ok(readFileSync(join(weights, 'epoch2.ckpt')).equals(readFileSync(r.lastPath)), "the last epoch's periodic file is last.ckpt");
  t.equal(Yolov5Trainer.parse({ kind: 'yolov5', save_period: 5 }).save_period, 5, 'job spec field');
  t.equal(Yolov5Trainer.parse({ kind: 'yolov5' }).save_period, 0, 'off by default');
});

/** torch.optim.Adam / AdamW in float64, per element, from the formulas of their documentation. */
function adamReference(
  kind: 'Adam' | 'AdamW',
  p0: number[],
  grads: number[][],
  group: number[],
  lr: number[],
  wd: number[],
  b1: number,
): number[] {
  const p = p0.slice(),
    m = p0.map(() => 0),
    v = p0.map(() => 0);
  grads.forEach((g0, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      const a = lr[group[i]],
        d = wd[group[i]];
      let g = g0[i];
      if (kind === 'Adam') g += d * p[i];
      else p[i] *= 1 - a * d;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      p[i] -= (a / (1 - b1 ** t)) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8));
    }
  });
  return p;
}

t.test('--optimizer Adam|AdamW: the step on the parameter groups, as torch', async (t) => {
  await initBackend();
  const { DeviceAdam } = await import('../../worker/engine/train/device-adam.ts');
  // three groups as the layout orders them: 0 biases, 1 weights (decay), 2 BN weights
  const sizes = [3, 4, 2],
    group = [0, 0, 0, 1, 1, 1, 1, 2, 2];
  const p0 = [0.5, -0.2, 0.1, 1.5, -2, 0.25, 0.75, 1, 0.9];
  const lr = [0.05, 0.01, 0.02],
    wd = [0, 0.1, 0];
  const grads = [0, 1, 2].map((k) => p0.map((_, i) => Math.sin(1 + i * 0.7 + k * 1.3)));
  for (const kind of ['Adam', 'AdamW'] as const) {
    let off = 0;
    const entries = sizes.map((n, gi) => {
      const e = { name: `p${gi}`, variable: tf.variable(tf.tensor1d(p0.slice(off, off + n))), group: gi, offset: off, size: n };
      off += n;
      return e;
    });
    const opt = new DeviceAdam(
      entries,
      9,
      [
        { begin: 0, end: 3, group: 0 },
        { begin: 3, end: 7, group: 1 },
        { begin: 7, end: 9, group: 2 },
      ],
      kind,
      0.937,
    );
    for (const g of grads) {
      tf.tidy(() =>
        opt.step(tf.tensor1d(g), {
          lr: tf.tensor1d(lr),
          weightDecay: tf.tensor1d(wd),
          momentum: tf.tensor1d([0.5]),
          decayed: [false, true, false],
        }),
      );
    }
    const got = entries.flatMap((e) => Array.from(e.variable.dataSync()));
    const want = adamReference(kind, p0, grads, group, lr, wd, 0.937);
    const err = Math.max(...got.map((x, i) => Math.abs(x - want[i])));
    t.ok(err < 1e-5, `${kind}: 3 steps within ${err.toExponential(2)} of float64 torch formulas`);
    // decay reaches the weights only: with wd 0 everywhere the weights would land elsewhere
    const noDecay = adamReference(kind, p0, grads, group, lr, [0, 0, 0], 0.937);
    t.ok(
      Math.abs(got[4] - noDecay[4]) > 1e-4 && Math.abs(got[0] - noDecay[0]) < 1e-6 && Math.abs(got[8] - noDecay[8]) < 1e-6,
      `${kind}: weight decay on the weights group, none on biases and BN weights`,
    );
    t.equal(opt.steps, 3);
    opt.dispose();
    entries.forEach((e) => e.variable.dispose());
  }
});

t.test('--optimizer AdamW through a run: checkpoint state, and a resume with another optimizer is refused', async (t) => {
  await initBackend();
  const dir = mkdtempSync(join(tmpdir(), 'train-adam-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  const r = await trainSession({
    data: 'synthetic',
    cfg,
    img: 64,
    epochs: 1,
    batch: 2,
    nbs: 2,
    synthTrain: 4,
    synthVal: 2,
    synthOptions: { classes: ['circle', 'square'], objects: [1, 2] },
    project: dir,
    name: 'adamw',
    noAutoanchor: true,
    noPlots: true,
    optimizer: 'AdamW',
  });
  const ck = loadCheckpoint(r.lastPath);
  t.equal(ck.meta.optimizer, 'AdamW', 'the run records its optimizer');
  const train = ck.meta.train as { adam?: { kind: string; steps: number }; counters: { optimizerSteps: number } };
  t.same(train.adam, { kind: 'AdamW', steps: train.counters.optimizerSteps }, 'Adam step count = optimizer steps');
  t.ok(ck.tensors.has('optim/exp_avg_sq'), 'second moment stored');
  const losses = readFileSync(r.resultsPath, 'utf8').trim().split('\n')[1].split(',').slice(1, 4).map(Number);
  t.ok(
    losses.every((x) => Number.isFinite(x) && x > 0),
    `finite losses ${losses}`,
  );
  // a checkpoint whose meta says SGD but whose state is Adam's: restoring refuses
  const { restoreTrainer, CheckpointMismatchError } = await import('../../worker/engine/train/index.ts');
  const { setupRun, runSettingsOf } = await import('../../worker/engine/train/run-setup.ts');
  const sgd = await setupRun({ ...runSettingsOf(ck), optimizer: 'SGD' });
  t.teardown(() => sgd.dispose());
  t.throws(() => restoreTrainer(sgd.trainer, ck), CheckpointMismatchError);
  t.equal(Yolov5Trainer.parse({ kind: 'yolov5', optimizer: 'Adam' }).optimizer, 'Adam', 'job spec field');
  t.notOk(Yolov5Trainer.safeParse({ kind: 'yolov5', optimizer: 'RMSProp' }).success, 'other optimizers refused');
});

t.test('--optimizer Adam: an interrupted and resumed run ends where the straight run ends', async (t) => {
  await initBackend();
  const dir = mkdtempSync(join(tmpdir(), 'train-adam-resume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  const base = {
    data: 'synthetic',
    cfg,
    img: 64,
    epochs: 2,
    batch: 2,
    nbs: 2,
    seed: 3,
    synthTrain: 6,
    synthVal: 2,
    synthOptions: { classes: ['circle', 'square'], objects: [1, 2] as [number, number] },
    project: dir,
    existOk: true,
    noAutoanchor: true,
    noPlots: true,
    noVal: true,
    saveEvery: 1,
    optimizer: 'Adam' as const,
  };
  const straight = await trainSession({ ...base, name: 'straight' });
  const ac = new AbortController();
  await t.rejects(
    trainSession({
      ...base,
      name: 'cut',
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'batch' && e.epoch === 1 && e.index === 0) ac.abort(new Error('simulated crash'));
      },
    }),
    /simulated crash/,
  );
  const resumed = await trainSession({ ...base, data: '', resume: join(dir, 'cut', 'weights', 'last.ckpt') });
  const a = loadCheckpoint(straight.lastPath),
    b = loadCheckpoint(resumed.lastPath);
  const bad = [...a.tensors]
    .filter(([k, v]) => {
      const w = b.tensors.get(k);
      const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
      return !w || !bytes(v.data as Float32Array).equals(bytes(w.data as Float32Array));
    })
    .map(([k]) => k);
  t.same(bad, [], 'model, EMA and both Adam moments bit-identical');
  t.same((b.meta.train as { adam: unknown }).adam, (a.meta.train as { adam: unknown }).adam, 'Adam step count equal');
});
