// Loss building blocks: target assignment on hand-placed targets, tensor CIoU against known
// values (and the reference CIoU cases when present), α held constant in the CIoU gradient.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { bboxCiou, bceWithLogits, buildTargets, stopGradient } from '../../worker/engine/loss/index.ts';
import { readRefManifest, referenceDir } from './loss-reference.ts';

await tf.setBackend('cpu');
const near = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol;

t.test('assignment: own cell and the nearest x and y neighbours', async (t) => {
  // 8×8 grid; target centre (3.3, 5.7) cells, size 1.5×1.5; anchors 1×1 (ratio 1.5 passes) and 7×7 (4.67 fails).
  const targets = Float32Array.from([0, 2, 3.3 / 8, 5.7 / 8, 1.5 / 8, 1.5 / 8]);
  const [lt] = buildTargets(
    targets,
    [
      [
        [1, 1],
        [7, 7],
      ],
    ],
    [{ batch: 1, ny: 8, nx: 8 }],
    4,
  );
  t.equal(lt.n, 3, 'three cells');
  t.same(Array.from(lt.gi), [3, 2, 3], 'columns: own, x−1, own');
  t.same(Array.from(lt.gj), [5, 5, 6], 'rows: own, own, y+1');
  t.same(Array.from(lt.a), [0, 0, 0], 'only the passing anchor');
  const tb = Array.from(lt.tbox);
  [0.3, 0.7, 1.5, 1.5, 1.3, 0.7, 1.5, 1.5, 0.3, -0.3, 1.5, 1.5].forEach((v, i) => t.ok(near(tb[i], v, 1e-5), `tbox[${i}] ${tb[i]} ≈ ${v}`));
  t.same(Array.from(lt.slot), [5 * 8 + 3, 5 * 8 + 2, 6 * 8 + 3], 'flat slots');
  t.same(Array.from(lt.tcls), [2, 2, 2]);
  t.equal(lt.duplicateSlots, 0);
});

t.test('assignment: no neighbour within one cell of the edge', async (t) => {
  // (0.8, 7.3) on 8×8: x frac .8 → x+1 candidate (8 − .8 = 7.2 > 1); y frac .3 < .5 but the
  // y+1 test uses 8 − 7.3 = 0.7, not > 1, and y−1 needs frac < .5 and y > 1: yes.
  const targets = Float32Array.from([0, 0, 0.8 / 8, 7.3 / 8, 1 / 8, 1 / 8]);
  const [lt] = buildTargets(targets, [[[1, 1]]], [{ batch: 1, ny: 8, nx: 8 }], 4);
  t.same(Array.from(lt.gi), [0, 0, 1]);
  t.same(Array.from(lt.gj), [7, 6, 7]);
  const [lt2] = buildTargets(Float32Array.from([0, 0, 0.6 / 8, 0.4 / 8, 1 / 8, 1 / 8]), [[[1, 1]]], [{ batch: 1, ny: 8, nx: 8 }], 4);
  t.same(
    [Array.from(lt2.gi), Array.from(lt2.gj)],
    [
      [0, 1],
      [0, 0],
    ],
    'corner target: x+1 only',
  );
});

t.test('assignment: a slot hit twice keeps the last assignment for objectness', async (t) => {
  // Two targets in cell (2, 2) of a 4×4 grid, both near the cell centre.
  const targets = Float32Array.from([0, 0, 2.55 / 4, 2.55 / 4, 1 / 4, 1 / 4, 0, 1, 2.6 / 4, 2.52 / 4, 1.2 / 4, 1.1 / 4]);
  const [lt] = buildTargets(targets, [[[1, 1]]], [{ batch: 1, ny: 4, nx: 4 }], 4);
  t.equal(lt.n, 6, 'own + x+1 + y+1 for each');
  t.equal(lt.duplicateSlots, 3, 'every slot twice');
  t.same(Array.from(lt.objFrom).sort(), [1, 3, 5], 'the second target (later row) wins each slot');
});

t.test('assignment: image index outside the batch is an error', async (t) => {
  t.throws(() => buildTargets(Float32Array.from([3, 0, 0.5, 0.5, 0.1, 0.1]), [[[1, 1]]], [{ batch: 2, ny: 4, nx: 4 }], 4), /outside batch/);
});

t.test('tensor CIoU: known values', async (t) => {
  const b1 = [
    [5, 5, 10, 10],
    [0, 0, 4, 4],
    [0, 0, 2, 2],
    [0, 0, 2, 2],
  ];
  const b2 = [
    [5, 5, 10, 10],
    [0, 0, 2, 2],
    [4, 0, 2, 2],
    [0, 0, 4, 2],
  ];
  const v = (4 / Math.PI ** 2) * (Math.atan(2) - Math.atan(1)) ** 2;
  const want = [1, 0.25, -0.4, 0.5 - (v * v) / (v + 0.5)];
  const got = tf.tidy(() => bboxCiou(tf.tensor2d(b1), tf.tensor2d(b2)).arraySync());
  want.forEach((w, i) => t.ok(near(got[i], w, 1e-6), `case ${i}: ${got[i]} ≈ ${w}`));
});

const dir = referenceDir();
t.test('tensor CIoU: reference cases', async (t) => {
  if (!dir) {
    t.comment('skipping: reference folder (vectors.json) not found');
    t.pass('reference absent', { skip: 'reference folder not found' });
    return;
  }
  const c = readRefManifest(dir).metrics.ciou;
  const got = tf.tidy(() => bboxCiou(tf.tensor2d(c.box1_xywh), tf.tensor2d(c.box2_xywh)).arraySync());
  c.expected.forEach((w, i) => t.ok(near(got[i], w, 1e-6), `case ${i}: ${got[i]} vs ${w}`));
});

t.test('tensor CIoU gradient holds α constant', async (t) => {
  const b1 = [3.1, 2.2, 1.7, 2.9],
    b2 = [3.6, 2.0, 2.4, 1.6];
  // float64 CIoU with α given.
  const ciou = (p: number[], alpha?: number) => {
    const q = b2,
      eps = 1e-7;
    const inter =
      Math.max(0, Math.min(p[0] + p[2] / 2, q[0] + q[2] / 2) - Math.max(p[0] - p[2] / 2, q[0] - q[2] / 2)) *
      Math.max(0, Math.min(p[1] + p[3] / 2, q[1] + q[3] / 2) - Math.max(p[1] - p[3] / 2, q[1] - q[3] / 2));
    const iou = inter / (p[2] * p[3] + q[2] * q[3] - inter + eps);
    const cw = Math.max(p[0] + p[2] / 2, q[0] + q[2] / 2) - Math.min(p[0] - p[2] / 2, q[0] - q[2] / 2);
    const ch = Math.max(p[1] + p[3] / 2, q[1] + q[3] / 2) - Math.min(p[1] - p[3] / 2, q[1] - q[3] / 2);
    const v = (4 / Math.PI ** 2) * (Math.atan(q[2] / q[3]) - Math.atan(p[2] / p[3])) ** 2;
    const a = alpha ?? v / (v - iou + 1 + eps);
    return { value: iou - ((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2) / (cw * cw + ch * ch + eps) - a * v, alpha: a };
  };
  const alpha = ciou(b1).alpha;
  const g = tf.tidy(
    () =>
      tf
        .grad((x: tf.Tensor) => bboxCiou(x as tf.Tensor2D, tf.tensor2d([b2])).sum())(tf.tensor2d([b1]))
        .arraySync() as number[][],
  )[0];
  const h = 1e-5;
  b1.forEach((_, k) => {
    const up = b1.slice(),
      dn = b1.slice();
    up[k] += h;
    dn[k] -= h;
    const fd = (ciou(up, alpha).value - ciou(dn, alpha).value) / (2 * h);
    t.ok(near(g[k], fd, 1e-4 * Math.abs(fd) + 1e-6), `d/d box1[${k}]: ${g[k]} vs ${fd}`);
  });
});

t.test('stopGradient and BCE', async (t) => {
  const x = tf.tensor1d([0.5, -1.5, 2]);
  const g = tf.grad((v: tf.Tensor) => v.mul(stopGradient(v)).sum())(x);
  t.same(Array.from(g.dataSync()), Array.from(x.dataSync()), 'd(x·sg(x))/dx = x');
  // BCE(σ(x), t) by the textbook formula, mean over 3 elements.
  const y = [1, 0, 0.3];
  const want =
    [0.5, -1.5, 2].reduce(
      (s, v, i) => s - (y[i] * Math.log(1 / (1 + Math.exp(-v))) + (1 - y[i]) * Math.log(1 - 1 / (1 + Math.exp(-v)))),
      0,
    ) / 3;
  const got = tf.tidy(() => bceWithLogits(x, tf.tensor1d(y)).dataSync()[0]);
  t.ok(near(got, want, 1e-6), `BCE ${got} vs ${want}`);
  const pw =
    [0.5, -1.5, 2].reduce(
      (s, v, i) => s - (2 * y[i] * Math.log(1 / (1 + Math.exp(-v))) + (1 - y[i]) * Math.log(1 - 1 / (1 + Math.exp(-v)))),
      0,
    ) / 3;
  const gotPw = tf.tidy(() => bceWithLogits(x, tf.tensor1d(y), { posWeight: 2 }).dataSync()[0]);
  t.ok(near(gotPw, pw, 1e-6), `pos_weight 2: ${gotPw} vs ${pw}`);
  tf.dispose([x, g]);
});

t.test('computeLoss inside tf.variableGrads, no leaked tensors', async (t) => {
  const { computeLoss } = await import('../../worker/engine/loss/index.ts');
  const { loadHyp } = await import('../../worker/engine/hyp/index.ts');
  const hyp = loadHyp();
  const meta = {
    nc: 2,
    anchors: [
      [
        [1, 1],
        [2, 3],
      ],
    ],
    strides: [8],
    imgsz: 64,
  };
  const w = tf.variable(tf.randomNormal([1, 2, 8, 8, 7], 0, 1, 'float32', 3));
  const targets = Float32Array.from([0, 1, 0.41, 0.33, 0.2, 0.25, 0, 0, 0.7, 0.8, 0.1, 0.3]);
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => computeLoss([w.mul(1.5)], targets, meta, hyp).total);
  t.ok(Number.isFinite(value.dataSync()[0]) && value.dataSync()[0] > 0, `loss ${value.dataSync()[0]}`);
  const g = grads[w.name];
  t.same(g.shape, w.shape, 'gradient for the variable');
  // Compare with the gradient w.r.t. the predictions, chained by hand (d pred / d w = 1.5).
  const p = w.mul(1.5);
  const gp = tf.grad((x: tf.Tensor) => computeLoss([x], targets, meta, hyp).total)(p);
  const a = g.dataSync(),
    b = gp.dataSync();
  t.ok(
    a.every((v, i) => Math.abs(v - 1.5 * b[i]) <= 1e-6 + 1e-5 * Math.abs(v)),
    'chain rule through the variable',
  );
  tf.dispose([value, g, gp, p]);
  t.equal(tf.memory().numTensors, before, 'every intermediate released');
  w.dispose();
});

t.test('computeLoss: no targets, and bad class ids', async (t) => {
  const { computeLoss } = await import('../../worker/engine/loss/index.ts');
  const { loadHyp } = await import('../../worker/engine/hyp/index.ts');
  const hyp = loadHyp();
  const meta = {
    nc: 2,
    anchors: [
      [
        [1, 1],
        [2, 3],
      ],
    ],
    strides: [8],
    imgsz: 640,
  };
  const logits = [0.3, -1.2, 2.5, 0.1];
  // [1, 2, 1, 2, 7]: obj logits at column 4 of each of the 4 slots.
  const data = new Float32Array(4 * 7);
  logits.forEach((v, i) => (data[i * 7 + 4] = v));
  const p = tf.tensor(data, [1, 2, 1, 2, 7]);
  const r = computeLoss([p], new Float32Array(0), meta, hyp);
  // lobj = obj gain (1·(640/640)²·3/1) · balance[0] (4, as nl ≠ 3) · mean softplus(x).
  const want = (3 * 4 * logits.reduce((s, v) => s + Math.log1p(Math.exp(v)), 0)) / 4;
  t.same([r.lbox.dataSync()[0], r.lcls.dataSync()[0]], [0, 0], 'no box or class loss');
  t.ok(near(r.lobj.dataSync()[0], want, 1e-5 * want), `lobj ${r.lobj.dataSync()[0]} vs ${want}`);
  t.throws(() => computeLoss([p], Float32Array.from([0, 2, 0.5, 0.5, 0.1, 0.1]), meta, hyp), /class 2/);
  tf.dispose([p, r.total, r.lbox, r.lobj, r.lcls]);
});
