// Numerics of the building blocks against slow, obvious versions written here: symmetric padding
// of strided convolutions (PyTorch's, not TF's 'same'), SPPF max-pooling with −∞ padding, nearest
// upsampling, and the training-mode gradients against central differences.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { modelTestBackend } from './model-backend.ts';
import { Conv2d } from '../../worker/engine/model/conv.ts';
import { SPPF, Upsample } from '../../worker/engine/model/blocks.ts';
import { SeededRandom } from '../../worker/engine/model/init.ts';
import { buildModel, hwioToOihw } from '../../worker/engine/model/index.ts';
import { tinyYaml } from './model-tiny.ts';

t.comment(`backend: ${await modelTestBackend()}`);

/** PyTorch conv2d on NCHW float64, zero padding p on every side. */
function naiveConv(
  x: Float64Array,
  [c, h, w]: number[],
  wt: Float32Array,
  [o, , k]: number[],
  s: number,
  p: number,
): { y: Float64Array; oh: number; ow: number } {
  const oh = Math.floor((h + 2 * p - k) / s) + 1;
  const ow = Math.floor((w + 2 * p - k) / s) + 1;
  const y = new Float64Array(o * oh * ow);
  for (let oo = 0; oo < o; oo++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let acc = 0;
        for (let cc = 0; cc < c; cc++)
          for (let a = 0; a < k; a++)
            for (let b = 0; b < k; b++) {
              const yy = i * s - p + a,
                xx = j * s - p + b;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              acc += x[(cc * h + yy) * w + xx] * wt[((oo * c + cc) * k + a) * k + b];
            }
        y[(oo * oh + i) * ow + j] = acc;
      }
  return { y, oh, ow };
}

const nhwcToNchw = (v: ArrayLike<number>, h: number, w: number, c: number) => {
  const out = new Float64Array(v.length);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < c; k++) out[(k * h + i) * w + j] = v[(i * w + j) * c + k];
  return out;
};

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number) =>
  a.length === b.length && Array.from(a).every((v, i) => Math.abs(v - b[i]) <= tol);

for (const [k, s, p, h, w] of [
  [3, 2, 1, 6, 6],
  [6, 2, 2, 8, 10],
  [3, 1, 1, 5, 4],
  [1, 1, 0, 3, 3],
]) {
  t.test(`conv k=${k} s=${s} p=${p} on ${h}×${w} pads like PyTorch`, async (t) => {
    const c = 2,
      o = 3;
    const conv = new Conv2d(c, o, k, s, p, true, new SeededRandom(k * 10 + s));
    const rnd = new SeededRandom(99);
    const xs = Float32Array.from({ length: h * w * c }, () => rnd.next() * 2 - 1);
    const y = tf.tidy(() => conv.apply(tf.tensor4d(xs, [1, h, w, c])));
    const wOihw = hwioToOihw(conv.weight.dataSync() as Float32Array, [o, c, k, k]);
    const bias = conv.bias!.dataSync();
    const ref = naiveConv(nhwcToNchw(xs, h, w, c), [c, h, w], wOihw, [o, c, k], s, p);
    t.same(y.shape, [1, ref.oh, ref.ow, o], 'output size');
    const got = nhwcToNchw(y.dataSync(), ref.oh, ref.ow, o);
    const want = ref.y.map((v, i) => v + bias[Math.floor(i / (ref.oh * ref.ow))]);
    t.ok(close(got, want, 1e-5), 'values');
    y.dispose();
    conv.dispose();
  });
}

t.test('SPPF pooling ignores the padding (−∞), and nearest upsampling repeats pixels', async (t) => {
  const h = 6,
    w = 7,
    c = 1;
  const rnd = new SeededRandom(5);
  const xs = Float32Array.from({ length: h * w }, () => rnd.next() * 2 - 1.5); // mostly negative: a zero pad would show
  const pooled = tf.tidy(() => tf.maxPool(tf.tensor4d(xs, [1, h, w, c]), 5, 1, 'same').dataSync());
  const want = new Float32Array(h * w);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      let m = -Infinity;
      for (let a = -2; a <= 2; a++)
        for (let b = -2; b <= 2; b++) {
          const y = i + a,
            x = j + b;
          if (y >= 0 && y < h && x >= 0 && x < w) m = Math.max(m, xs[y * w + x]);
        }
      want[i * w + j] = m;
    }
  t.same(pooled, want, 'max-pool 5×5, stride 1, pad 2');
  const sppf = new SPPF(4, 4, 5, new SeededRandom(1));
  t.same(sppf.profile([[h, w, 4]]).out, [h, w, 4], 'SPPF keeps the size');
  sppf.dispose();

  const up = new Upsample(1, 2);
  const u = tf.tidy(() => up.forward([tf.tensor4d(xs, [1, h, w, 1])]).dataSync());
  const wantUp = Float32Array.from(
    { length: 4 * h * w },
    (_, i) => xs[Math.floor(Math.floor(i / (2 * w)) / 2) * w + Math.floor((i % (2 * w)) / 2)],
  );
  t.same(u, wantUp, 'upsampled[y][x] = x[y/2][x/2]');

  // the gradient sums each 2×2 block, for every image of a batch (tf.image.resizeNearestNeighbor's
  // CPU gradient gets batches > 1 wrong in tfjs 4.22, so Upsample must not rely on it)
  const [b, c2] = [3, 2];
  const x3 = tf.randomNormal([b, h, w, c2], 0, 1, 'float32', 8) as tf.Tensor4D;
  const wt = tf.randomNormal([b, 2 * h, 2 * w, c2], 0, 1, 'float32', 9);
  const up2 = new Upsample(c2, 2);
  const g = tf
    .grad((a: tf.Tensor) => tf.sum(tf.mul(up2.forward([a as tf.Tensor4D]), wt)))(x3)
    .dataSync();
  const wv = wt.dataSync();
  const at = (n: number, i: number, j: number, k: number) => wv[((n * 2 * h + i) * 2 * w + j) * c2 + k];
  const wantG = new Float32Array(b * h * w * c2);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let k = 0; k < c2; k++) {
          wantG[((n * h + i) * w + j) * c2 + k] =
            at(n, 2 * i, 2 * j, k) + at(n, 2 * i + 1, 2 * j, k) + at(n, 2 * i, 2 * j + 1, k) + at(n, 2 * i + 1, 2 * j + 1, k);
        }
  t.ok(close(g, wantG, 1e-5), 'upsample gradient, batch of 3');
  tf.dispose([x3, wt]);
});

t.test('training-mode gradients match central differences', async (t) => {
  const m = buildModel(tinyYaml(), { seed: 11 });
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  t.teardown(() => {
    m.dispose();
    x.dispose();
  });
  // a fixed random projection of every head output, so every parameter matters
  const proj = m.forward(x, { training: false }).map((r, i) => {
    const s = r.shape;
    r.dispose();
    return tf.randomNormal(s, 0, 1, 'float32', 20 + i);
  });
  t.teardown(() => tf.dispose(proj));
  const loss = () =>
    tf.tidy(
      () => tf.addN(m.forward(x, { training: true, updateRunningStats: false }).map((o, i) => tf.sum(tf.mul(o, proj[i])))) as tf.Scalar,
    );
  const { grads } = tf.variableGrads(loss);
  t.teardown(() => tf.dispose(grads));
  const all = [...m.trainableVariables.weights, ...m.trainableVariables.bnWeights, ...m.trainableVariables.biases];
  t.equal(all.filter((v) => !grads[v.name]).length, 0, 'every trainable variable has a gradient');

  const probes = [
    'model.0.conv.weight',
    'model.3.m.0.cv2.conv.weight',
    'model.3.cv3.bn.weight',
    'model.5.cv2.bn.bias',
    'model.8.cv1.conv.weight',
    'model.9.m.0.bias',
  ];
  for (const name of probes) {
    const v = m.namedTensors().find((n) => n.name === name)!.variable;
    const g = grads[v.name].dataSync();
    // the element with the largest gradient, so the difference is well above float32 noise
    let idx = 0;
    for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[idx])) idx = i;
    const orig = v.dataSync().slice();
    const at = (delta: number) => {
      const w = orig.slice();
      w[idx] += delta;
      v.assign(tf.tensor(w, v.shape));
      const l = loss();
      const out = l.dataSync()[0];
      l.dispose();
      return out;
    };
    const eps = 3e-3;
    const fd = (at(eps) - at(-eps)) / (2 * eps);
    v.assign(tf.tensor(orig, v.shape));
    t.ok(
      Math.abs(fd - g[idx]) <= 0.02 * Math.abs(g[idx]) + 1e-3,
      `${name}[${idx}]: analytic ${g[idx].toFixed(5)} vs central difference ${fd.toFixed(5)}`,
    );
  }
});
