/**
 * The Trainer's orchestration against an independent float64 re-computation: gradients from
 * tf.grads on separate variables, summed over `accumulate` batches, clipped to max_norm, decayed
 * only in the weight group, Nesterov-stepped with per-group lr, and the EMA ramp.
 */
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { computeLoss } from '../../worker/engine/loss/index.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { Trainer, type KindedVariable, type TrainableModel } from '../../worker/engine/train/index.ts';
import { syntheticBatch } from './train-fixtures.ts';

const NO = 7; // nc 2 + 5
const ANCHORS = [
  [
    [1, 1],
    [2, 2],
    [3, 3],
  ],
];
const IMG = 16;

/** preds[b, a, y, x, :] = G ⊙ (mean(x_b) · W) + B, the same for every anchor and cell. */
function toyForward(x: tf.Tensor4D, w: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor[] {
  const [bs] = x.shape;
  const m = tf.mean(x, [1, 2, 3]).reshape([bs, 1]);
  const row = tf.add(tf.mul(g, tf.mul(m, w)), b); // [bs, NO]
  return [tf.add(row.reshape([bs, 1, 1, 1, NO]), tf.zeros([bs, 3, IMG / 8, IMG / 8, NO]))];
}

class ToyModel implements TrainableModel {
  readonly nc = 2;
  readonly strides = [8];
  readonly anchors = ANCHORS;
  readonly w = tf.variable(tf.tensor1d([0.5, -0.3, 0.2, 0.1, -1, 0.4, -0.2]));
  readonly g = tf.variable(tf.tensor1d([1, 1.1, 0.9, 1, 1.2, 0.8, 1]));
  readonly b = tf.variable(tf.tensor1d([0.1, 0, -0.1, 0.2, -2, -1, 0.5]));
  forward(x: tf.Tensor4D): tf.Tensor[] {
    return tf.tidy(() => toyForward(x, this.w, this.g, this.b));
  }
  decode(): tf.Tensor3D {
    throw new Error('not used');
  }
  namedTensors(): KindedVariable[] {
    return [
      { name: 'model.0.conv.weight', variable: this.w, kind: 'weight' },
      { name: 'model.0.bn.weight', variable: this.g, kind: 'bnWeight' },
      { name: 'model.0.bn.bias', variable: this.b, kind: 'bias' },
    ];
  }
  stateDict(): Map<string, Float32Array> {
    return new Map(this.namedTensors().map((t) => [t.name, Float32Array.from(t.variable.dataSync())]));
  }
  loadStateDict(s: Map<string, Float32Array>): void {
    for (const t of this.namedTensors()) t.variable.assign(tf.tensor(s.get(t.name)!, t.variable.shape));
  }
}

t.test('accumulate, clip, decay, Nesterov and EMA match a float64 re-computation', async (t) => {
  await tf.setBackend('cpu');
  for (const maxGradNorm of [10, 0.05]) {
    const hyp = loadHyp(undefined, { warmup_epochs: 0, lr0: 0.05, weight_decay: 0.01 });
    const model = new ToyModel();
    const tr = new Trainer(model, { hyp, epochs: 10, batchSize: 2, batchesPerEpoch: 100, imgsz: IMG, nbs: 4, maxGradNorm });
    t.equal(tr.accumulate, 2);
    // reference state, float64: [W, G, B]
    const P = [model.w, model.g, model.b].map((v) => Float64Array.from(v.dataSync()));
    const V = P.map((p) => new Float64Array(p.length));
    const E = P.map((p) => Float64Array.from(p));
    const acc = P.map((p) => new Float64Array(p.length));
    const wd = (hyp.weight_decay * 2 * 2) / 4;
    let steps = 0;
    let clipped = false;
    for (let ni = 0; ni < 6; ni++) {
      const batch = syntheticBatch(ni, 2, IMG);
      // independent gradient at the reference parameters
      const grads = tf.tidy(() => {
        const vars = P.map((p) => tf.tensor1d(Float32Array.from(p)));
        const x = tf.tensor4d(batch.images, [2, IMG, IMG, 3]);
        const f = (w: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          computeLoss(toyForward(x, w, g, b), batch.targets, { nc: 2, anchors: ANCHORS, strides: [8], imgsz: IMG }, hyp).total;
        return tf
          .grads(f as (...a: tf.Tensor[]) => tf.Tensor)(vars)
          .map((gr) => Array.from(gr.dataSync()));
      });
      grads.forEach((gr, k) => gr.forEach((v, i) => (acc[k][i] += v)));
      const info = tr.step(batch);
      const shouldStep = ni % 2 === 1;
      t.equal(info.stepped, shouldStep, `ni ${ni}: stepped ${shouldStep}`);
      if (!shouldStep) continue;
      steps++;
      const norm = Math.sqrt(acc.reduce((s, a) => s + a.reduce((q, v) => q + v * v, 0), 0));
      const coef = Math.min(1, maxGradNorm / (norm + 1e-6));
      if (coef < 1) clipped = true;
      const lr = hyp.lr0 * ((1 - 0 / 10) * (1 - hyp.lrf) + hyp.lrf);
      const mu = hyp.momentum;
      P.forEach((p, k) => {
        for (let i = 0; i < p.length; i++) {
          const g = acc[k][i] * coef + (k === 0 ? wd * p[i] : 0);
          V[k][i] = steps === 1 ? g : mu * V[k][i] + g;
          p[i] -= lr * (g + mu * V[k][i]);
        }
        acc[k].fill(0);
      });
      const d = 0.9999 * (1 - Math.exp(-steps / 2000));
      E.forEach((e, k) => {
        for (let i = 0; i < e.length; i++) e[i] = d * e[i] + (1 - d) * P[k][i];
      });
      t.ok(Math.abs(info.gradNorm! - norm) <= 1e-4 * norm, `ni ${ni}: grad norm ${info.gradNorm} ≈ ${norm}`);
    }
    t.equal(clipped, maxGradNorm < 1, maxGradNorm < 1 ? 'clipping engaged' : 'no clipping at max_norm 10');
    const got = [model.w, model.g, model.b].map((v) => v.dataSync());
    const emaGot = ['model.0.conv.weight', 'model.0.bn.weight', 'model.0.bn.bias'].map((n) => tr.ema.state.get(n)!);
    let worst = 0,
      worstE = 0;
    P.forEach((p, k) =>
      p.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(got[k][i] - v) / Math.max(1, Math.abs(v)));
        worstE = Math.max(worstE, Math.abs(emaGot[k][i] - E[k][i]) / Math.max(1, Math.abs(E[k][i])));
      }),
    );
    t.ok(worst < 1e-5, `max_norm ${maxGradNorm}: parameters within ${worst.toExponential(2)} of float64`);
    t.ok(worstE < 1e-5, `max_norm ${maxGradNorm}: EMA within ${worstE.toExponential(2)} of float64`);
    t.ok(
      P[0].some((v, i) => Math.abs(v - [0.5, -0.3, 0.2, 0.1, -1, 0.4, -0.2][i]) > 1e-4),
      'the parameters moved',
    );
  }
});

t.test('the gradient hook: computeGradients → external reduce → applyGradients', async (t) => {
  await tf.setBackend('cpu');
  const hyp = loadHyp(undefined, { warmup_epochs: 0 });
  const mk = () => new Trainer(new ToyModel(), { hyp, epochs: 5, batchSize: 4, batchesPerEpoch: 10, imgsz: IMG, nbs: 4 });
  // Two "ranks" with 2 images each sum their gradients (DDP's mean of loss·WORLD_SIZE) and stay identical.
  const r0 = mk(),
    r1 = mk();
  const init = r0.model.stateDict();
  const expected = new Map([...init].map(([k, v]) => [k, Float64Array.from(v)]));
  let vel: Float64Array | null = null;
  for (let ni = 0; ni < 3; ni++) {
    const a = syntheticBatch(10 + ni, 2, IMG),
      b = syntheticBatch(20 + ni, 2, IMG);
    const g0 = Float32Array.from(r0.computeGradients(a).grads);
    const g1 = Float32Array.from(r1.computeGradients(b).grads);
    t.notSame(Array.from(g0), Array.from(g1), 'ranks see different data');
    const sum = g0.map((v, i) => v + g1[i]);
    r0.applyGradients(sum);
    r1.applyGradients(Float32Array.from(sum));
    // the update uses exactly the summed gradient: layout order is bias, weight, BN weight
    const flat = [...expected.get('model.0.bn.bias')!, ...expected.get('model.0.conv.weight')!, ...expected.get('model.0.bn.weight')!];
    const wd = hyp.weight_decay;
    const mu = hyp.momentum;
    const g = Array.from(sum, (v, i) => v + (i >= 7 && i < 14 ? wd * flat[i] : 0));
    vel = vel ? vel.map((v, i) => mu * v + g[i]) : Float64Array.from(g);
    const next = flat.map((p, i) => p - hyp.lr0 * (g[i] + mu * vel![i]));
    expected.set('model.0.bn.bias', Float64Array.from(next.slice(0, 7)));
    expected.set('model.0.conv.weight', Float64Array.from(next.slice(7, 14)));
    expected.set('model.0.bn.weight', Float64Array.from(next.slice(14)));
  }
  const s0 = r0.model.stateDict(),
    s1 = r1.model.stateDict();
  for (const [k, v] of s0) {
    t.same(Array.from(v), Array.from(s1.get(k)!), `${k}: replicas identical`);
    const dev = Math.max(...Array.from(v).map((x, i) => Math.abs(x - expected.get(k)![i])));
    t.ok(dev < 1e-6, `${k}: follows the summed gradient (max dev ${dev.toExponential(2)})`);
  }
  t.throws(() => r0.applyGradients(new Float32Array(3)), RangeError);
});
