// State of the model: initialisation, state dicts (engine layout), PyTorch-layout loading,
// optimizer groups, running-statistics semantics.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { modelTestBackend } from './model-backend.ts';
import { buildModel, hwioToOihw, oihwToHwio, type TorchTensorInfo, type YoloModel } from '../../worker/engine/model/index.ts';
import { tinyYaml } from './model-tiny.ts';

t.comment(`backend: ${await modelTestBackend()}`);

const input = () => tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 7) as tf.Tensor4D;

function outputs(m: YoloModel, x: tf.Tensor4D, training = false): Float32Array[] {
  const raw = m.forward(x, { training, updateRunningStats: false });
  const out = raw.map((r) => r.dataSync() as Float32Array);
  tf.dispose(raw);
  return out;
}

t.test('initialisation: seeded, PyTorch bounds, BatchNorm identity, Detect prior', async (t) => {
  const a = buildModel(tinyYaml(), { seed: 1 });
  const b = buildModel(tinyYaml(), { seed: 1 });
  const c = buildModel(tinyYaml(), { seed: 2 });
  t.teardown(() => [a, b, c].forEach((m) => m.dispose()));
  const sa = a.stateDict(),
    sb = b.stateDict(),
    sc = c.stateDict();
  t.same([...sa.keys()], [...sb.keys()], 'same names');
  t.ok(
    [...sa].every(([k, v]) => v.every((x, i) => x === sb.get(k)![i])),
    'same seed, same numbers',
  );
  t.notSame(sa.get('model.0.conv.weight'), sc.get('model.0.conv.weight'), 'another seed, other numbers');
  for (const x of a.namedTensors()) {
    const v = sa.get(x.name)!;
    if (x.kind === 'weight') {
      const fanIn = x.torchShape.slice(1).reduce((p, q) => p * q, 1);
      const bound = 1 / Math.sqrt(fanIn);
      if (!v.every((w) => Math.abs(w) <= bound)) t.fail(`${x.name} exceeds 1/sqrt(fan_in)`);
      const mean = v.reduce((s, w) => s + w, 0) / v.length;
      if (v.length > 500 && Math.abs(mean) > bound * 0.2) t.fail(`${x.name}: mean ${mean} far from 0`);
    }
  }
  const bnW = a.namedTensors().filter((x) => x.kind === 'bnWeight');
  t.ok(
    bnW.every((x) => sa.get(x.name)!.every((v) => v === 1)),
    'BatchNorm weight 1',
  );
  t.ok(
    a
      .namedTensors()
      .filter((x) => x.kind === 'runningVar')
      .every((x) => sa.get(x.name)!.every((v) => v === 1)),
    'running_var 1',
  );
  t.ok(
    a
      .namedTensors()
      .filter((x) => x.kind === 'runningMean')
      .every((x) => sa.get(x.name)!.every((v) => v === 0)),
    'running_mean 0',
  );
  // Detect bias = U(±1/√fan_in) + prior; prior obj = log(8/(640/s)²), cls = log(0.6/(nc − 0.99999))
  a.strides.forEach((s, l) => {
    const bias = sa.get(`model.9.m.${l}.bias`)!;
    const bound = 1 / Math.sqrt([32, 16][l]); // Detect inputs: layer 8 (32 ch), layer 5 (16 ch)
    const no = a.no;
    for (let k = 0; k < a.na; k++) {
      const obj = bias[k * no + 4] - Math.log(8 / (640 / s) ** 2);
      const cls = bias[k * no + 5] - Math.log(0.6 / (a.nc - 0.99999));
      t.ok(Math.abs(obj) <= bound + 1e-6 && Math.abs(cls) <= bound + 1e-6, `level ${l} anchor ${k}: obj and cls priors`);
      t.ok(Math.abs(bias[k * no]) <= bound, `level ${l} anchor ${k}: box bias without prior`);
    }
  });
});

t.test('optimizer groups', async (t) => {
  const m = buildModel(tinyYaml());
  t.teardown(() => m.dispose());
  const g = m.trainableVariables;
  const all = [...g.weights, ...g.bnWeights, ...g.biases];
  t.equal(new Set(all).size, all.length, 'no variable in two groups');
  t.ok(
    all.every((v) => v.trainable),
    'all trainable',
  );
  t.equal(
    all.reduce((s, v) => s + v.size, 0),
    m.paramCount(),
    'groups cover paramCount',
  );
  t.ok(
    g.weights.every((v) => v.rank === 4),
    'weights are the conv kernels',
  );
  t.ok(
    [...g.bnWeights, ...g.biases].every((v) => v.rank === 1),
    'no-decay groups are vectors',
  );
  const stats = m.namedTensors().filter((x) => x.kind === 'runningMean' || x.kind === 'runningVar');
  t.ok(
    stats.every((x) => !x.variable.trainable),
    'running statistics are not trainable',
  );
});

t.test('stateDict round trip, strict and non-strict loads', async (t) => {
  const a = buildModel(tinyYaml(), { seed: 1 });
  const b = buildModel(tinyYaml(), { seed: 2 });
  t.teardown(() => {
    a.dispose();
    b.dispose();
    x.dispose();
  });
  const x = input();
  // move a's running stats away from their initial values so they are part of what travels
  tf.dispose(a.forward(x, { training: true }));
  a.setAnchors([
    [
      [1, 2],
      [3, 4],
    ],
    [
      [5, 6],
      [7, 8],
    ],
  ]);
  const sd = a.stateDict();
  t.ok(sd.has('model.9.anchors') && sd.has('model.3.m.0.cv1.bn.running_mean'), 'anchors and BatchNorm buffers included');
  t.notSame(outputs(b, x), outputs(a, x), 'different before loading');
  const r = b.loadStateDict(sd);
  t.equal(r.loaded.length, sd.size, 'every entry loaded');
  t.same(outputs(b, x), outputs(a, x), 'identical outputs after loading');
  t.same(b.anchors, a.anchors, 'anchors travel');
  // no aliasing: neither the returned arrays nor the loaded ones are the model's storage
  const w0 = b.stateDict().get('model.0.conv.weight')!;
  const expect0 = w0[0];
  b.stateDict().get('model.0.conv.weight')!.fill(123);
  sd.get('model.0.conv.weight')!.fill(456);
  t.equal(b.stateDict().get('model.0.conv.weight')![0], expect0, 'mutating stateDict() results or loaded arrays leaves the model alone');
  sd.set('model.0.conv.weight', w0);

  const missing = new Map(sd);
  missing.delete('model.0.bn.running_var');
  const before = b.stateDict().get('model.0.conv.weight');
  t.throws(
    () => b.loadStateDict(missing),
    { name: 'StateDictError', message: /missing 1 tensors \(model\.0\.bn\.running_var\)/ },
    'strict: missing',
  );
  const wrong = new Map(sd);
  wrong.set('model.0.conv.weight', new Float32Array(3));
  t.throws(() => b.loadStateDict(wrong), /model\.0\.conv\.weight: shape/, 'strict: wrong size');
  t.same(b.stateDict().get('model.0.conv.weight'), before, 'a failed strict load changes nothing');

  const other = buildModel(tinyYaml(), { nc: 7 });
  t.teardown(() => other.dispose());
  const rep = other.loadStateDict(sd, { strict: false });
  t.same(
    rep.skipped.sort(),
    ['model.9.m.0.bias', 'model.9.m.0.weight', 'model.9.m.1.bias', 'model.9.m.1.weight'],
    'non-strict: the head of another nc is skipped',
  );
  t.same(rep.missing.sort(), rep.skipped.sort(), 'and reported missing');
});

t.test('PyTorch layout: OIHW → HWIO', async (t) => {
  const shape = [4, 3, 2, 5];
  const src = Float32Array.from({ length: 120 }, (_, i) => i);
  const viaTf = tf.tidy(() =>
    tf
      .tensor4d(src, shape as [number, number, number, number])
      .transpose([2, 3, 1, 0])
      .dataSync(),
  );
  t.same(oihwToHwio(src, shape), viaTf, 'matches a transpose [2, 3, 1, 0]');
  t.same(hwioToOihw(oihwToHwio(src, shape), shape), src, 'inverse');

  const a = buildModel(tinyYaml(), { seed: 4 });
  const b = buildModel(tinyYaml(), { seed: 5 });
  const x = input();
  t.teardown(() => {
    a.dispose();
    b.dispose();
    x.dispose();
  });
  // write a as a PyTorch state_dict blob, with a num_batches_tracked the loader must ignore
  const tensors: TorchTensorInfo[] = [];
  const parts: Float32Array[] = [];
  let offset = 0;
  const push = (name: string, shape: number[], data: Float32Array) => {
    tensors.push({ name, shape, offset, numel: data.length });
    parts.push(data);
    offset += data.length;
  };
  const sd = a.stateDict();
  for (const n of a.namedTensors()) {
    const v = sd.get(n.name)!;
    push(n.name, [...n.torchShape], n.torchShape.length === 4 ? hwioToOihw(v, n.torchShape) : v);
    if (n.kind === 'runningVar') push(n.name.replace('running_var', 'num_batches_tracked'), [], new Float32Array([0]));
  }
  push('model.9.anchors', [2, 2, 2], sd.get('model.9.anchors')!);
  const blob = new Float32Array(offset);
  let o = 0;
  for (const p of parts) {
    blob.set(p, o);
    o += p.length;
  }
  b.loadTorchWeights(blob, tensors);
  t.same(outputs(b, x, true), outputs(a, x, true), 'same outputs after loading the PyTorch blob');
  t.throws(
    () => b.loadTorchWeights(blob, [...tensors, { name: 'model.0.extra', shape: [1], offset: 0, numel: 1 }]),
    /unexpected tensor model\.0\.extra/,
    'unknown name',
  );
  t.throws(() => b.loadTorchWeights(blob.subarray(0, 10), tensors), /outside the blob/, 'truncated blob');
});

t.test('running statistics: eval never moves them, training does unless told not to', async (t) => {
  const m = buildModel(tinyYaml());
  const x = input();
  t.teardown(() => {
    m.dispose();
    x.dispose();
  });
  const rm = () => m.stateDict().get('model.0.bn.running_mean')!;
  const start = rm();
  tf.dispose(m.forward(x, { training: false, updateRunningStats: true }));
  t.same(rm(), start, 'eval: unchanged even when asked');
  tf.dispose(m.forward(x, { training: true, updateRunningStats: false }));
  t.same(rm(), start, 'training without update: unchanged');
  // expected update, computed independently: batch mean of layer 0's conv output over N, H, W
  const conv0 = tf.tidy(() => {
    const w = m.namedTensors().find((n) => n.name === 'model.0.conv.weight')!.variable as tf.Tensor4D;
    return tf.conv2d(
      tf.pad(x, [
        [0, 0],
        [2, 2],
        [2, 2],
        [0, 0],
      ]),
      w,
      2,
      'valid',
    );
  });
  const c = conv0.shape[3];
  const v = conv0.dataSync();
  conv0.dispose();
  const mean = new Float64Array(c);
  for (let i = 0; i < v.length; i++) mean[i % c] += v[i] / (v.length / c);
  tf.dispose(m.forward(x, { training: true }));
  const got = rm();
  t.ok(
    Array.from(got).every((g, i) => Math.abs(g - (0.97 * start[i] + 0.03 * mean[i])) <= 1e-6 + 1e-5 * Math.abs(g)),
    'new = 0.97·old + 0.03·batch mean',
  );
});
