// The architecture yaml: parsing, Ultralytics' depth/width rules, the module registry and its errors.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { modelTestBackend } from './model-backend.ts';
import {
  buildModel,
  loadModelYaml,
  makeDivisible,
  ModelConfigError,
  pyRound,
  scaleDepth,
  BUILTIN_CFGS,
  type ModelYaml,
} from '../../worker/engine/model/index.ts';
import { TINY_MODULES, tinyYaml } from './model-tiny.ts';

t.comment(`backend: ${await modelTestBackend()}`);

t.test('Python rounding and the depth/width gains', async (t) => {
  t.same([0.5, 1.5, 2.5, 3.5, 0.49, 2.51].map(pyRound), [0, 2, 2, 4, 0, 3], 'halves to even');
  // n·gd for the five sizes: 3, 6, 9 repeats at gd 0.33 / 0.67 / 1.0 / 1.33
  t.same(
    [3, 6, 9].map((n) => scaleDepth(n, 0.33)),
    [1, 2, 3],
    'n, s',
  );
  t.same(
    [3, 6, 9].map((n) => scaleDepth(n, 0.67)),
    [2, 4, 6],
    'm',
  );
  t.same(
    [3, 6, 9].map((n) => scaleDepth(n, 1.33)),
    [4, 8, 12],
    'x',
  );
  t.equal(scaleDepth(1, 0.33), 1, 'n = 1 is never scaled');
  t.equal(scaleDepth(2, 0.1), 1, 'at least one repeat');
  t.same(
    [64 * 0.25, 64 * 0.75, 1024 * 1.25, 17].map((x) => makeDivisible(x)),
    [16, 48, 1280, 24],
    'channels rounded up to 8',
  );
});

t.test('built-in yamls load by name, file name or path', async (t) => {
  for (const n of BUILTIN_CFGS) {
    const y = loadModelYaml(n);
    t.equal(y.nc, 80, `${n}: nc 80`);
    t.equal(y.backbone.length + y.head.length, 25, `${n}: 25 rows`);
  }
  t.same(loadModelYaml('yolov5s.yaml'), loadModelYaml('yolov5s'), 'with extension');
  const gains = BUILTIN_CFGS.map((n) => [loadModelYaml(n).depth_multiple, loadModelYaml(n).width_multiple]);
  t.same(
    gains,
    [
      [0.33, 0.25],
      [0.33, 0.5],
      [0.67, 0.75],
      [1, 1],
      [1.33, 1.25],
    ],
    'depth and width multiples',
  );
  t.throws(() => loadModelYaml('no-such-model.yaml'), ModelConfigError, 'missing file');
});

t.test('a custom yaml with every module builds and runs', async (t) => {
  const m = buildModel(tinyYaml(), { seed: 3 });
  t.teardown(() => m.dispose());
  t.same(m.strides, [4, 8], 'strides measured from the feature maps');
  t.same(
    m.anchors,
    [
      [
        [2.5, 3.25],
        [4, 7.5],
      ],
      [
        [3.75, 7.625],
        [7.75, 5.625],
      ],
    ],
    'anchors / stride',
  );
  t.equal(m.summary(64).layers, TINY_MODULES, 'module count');
  const names = m.namedTensors().map((x) => x.name);
  t.ok(names.includes('model.1.0.conv.weight') && names.includes('model.1.1.bn.running_var'), 'repeated module named as a Sequential');
  t.ok(names.includes('model.3.m.0.cv2.conv.weight'), 'C3 bottleneck names');
  t.ok(names.includes('model.9.m.1.bias'), 'Detect names');
  const x = tf.randomUniform([2, 16, 24, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const raw = m.forward(x, { training: false });
  t.same(
    raw.map((r) => r.shape),
    [
      [2, 2, 4, 6, 7],
      [2, 2, 2, 3, 7],
    ],
    'per-level [B, na, ny, nx, no]',
  );
  const dec = m.decode(raw);
  t.same(dec.shape, [2, 2 * 24 + 2 * 6, 7], 'decoded [B, N, no]');
  t.throws(
    () => m.forward(tf.zeros([1, 12, 16, 3]) as tf.Tensor4D, { training: false }),
    /multiples of 8/,
    'size not a multiple of the stride',
  );
  tf.dispose([x, ...raw, dec]);
});

t.test('anchors listed large-to-small are flipped to follow the strides', async (t) => {
  const y = tinyYaml();
  y.anchors = [
    [30, 61, 62, 45],
    [10, 13, 16, 30],
  ];
  const m = buildModel(y);
  t.same(
    m.anchors,
    [
      [
        [2.5, 3.25],
        [4, 7.5],
      ],
      [
        [3.75, 7.625],
        [7.75, 5.625],
      ],
    ],
    'check_anchor_order',
  );
  m.dispose();
});

t.test('configuration errors are clear', async (t) => {
  const withRow = (row: ModelYaml['head'][number], at = 0): ModelYaml => {
    const y = tinyYaml();
    y.head.splice(at, 0, row);
    return y;
  };
  t.throws(
    () => buildModel(withRow([-1, 1, 'GhostConv', [8]])),
    { name: 'ModelConfigError', message: /unknown module 'GhostConv'/ },
    'unknown module',
  );
  t.throws(
    () => buildModel(withRow([-1, 1, 'Conv', ['eight']])),
    { name: 'ModelConfigError', message: /layer 6 \(Conv\): bad args/ },
    'bad args',
  );
  t.throws(() => buildModel(withRow([-1, 1, 'Conv', [8, 3, 1, null, 2]])), /groups\/dilation/, 'grouped conv');
  t.throws(() => buildModel(withRow([-1, 1, 'nn.Upsample', ['None', 2, 'bilinear']])), ModelConfigError, 'non-nearest upsample');
  t.throws(() => buildModel(withRow([[-1, 9], 1, 'Concat', [1]])), /earlier layer/, 'from points forward');
  const noDetect = tinyYaml();
  noDetect.head.pop();
  t.throws(() => buildModel(noDetect), /no Detect/, 'no Detect');
  t.throws(() => buildModel({ ...tinyYaml(), nc: 0 }), /invalid model yaml/, 'schema: nc');
  t.throws(() => buildModel(tinyYaml(), { nc: 1.5 }), RangeError, 'bad nc override');
});

t.test('nc override changes only the head', async (t) => {
  const a = buildModel(tinyYaml(), { nc: 5 });
  t.equal(a.no, 10, 'no = nc + 5');
  t.equal(a.yaml.nc, 5, 'resolved yaml');
  const shape = a.namedTensors().find((x) => x.name === 'model.9.m.0.weight')!.torchShape;
  t.same(shape, [20, 32, 1, 1], 'Detect conv: na·no outputs');
  a.dispose();
});
