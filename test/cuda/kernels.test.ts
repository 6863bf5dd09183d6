/**
 * The CUDA backend's kernel bodies (worker/cuda/src/*.cu), compiled for the CPU as its host
 * variant, against the native CPU kernels on the shapes of YOLOv5n/s layers (spatial sizes of a
 * 128-pixel image; channels of n and s): every output within 1e-5 relative (normwise), and each
 * kernel really ran on the addon, not by transfer.
 */
import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { batchNormAct, emaStep, nesterovStep } from '../../worker/native/index.ts';
import { CUDA, REFERENCE, relErr, runOn, setupOrSkip, values } from './harness.ts';

const s = setupOrSkip(t);
if (s) {
  const { backend } = s;
  t.comment(`reference: ${s.reference}`);
  let seed = 1;
  const input = (shape: number[], lo = -1, hi = 1) => ({
    shape,
    v: values(
      shape.reduce((a, b) => a * b, 1),
      seed++,
      lo,
      hi,
    ),
  });
  type In = ReturnType<typeof input>;
  const tensor = (x: In) => tf.tensor(x.v, x.shape);

  async function compare(label: string, kernels: string[], fn: () => tf.Tensor | tf.Tensor[], tol = 1e-5): Promise<void> {
    const before = new Map(kernels.map((k) => [k, backend.native.get(k) ?? 0]));
    const fallbacks = [...backend.fallbacks.values()].reduce((a, b) => a + b, 0);
    const got = await runOn(CUDA, fn);
    const want = await runOn(REFERENCE, fn);
    for (const k of kernels) t.ok((backend.native.get(k) ?? 0) > before.get(k)!, `${label}: ${k} ran on the addon`);
    t.equal(
      [...backend.fallbacks.values()].reduce((a, b) => a + b, 0),
      fallbacks,
      `${label}: no kernel ran by transfer`,
    );
    t.equal(got.length, want.length, `${label}: output count`);
    got.forEach((g, i) => {
      t.same(g.shape, want[i].shape, `${label}: shape of output ${i}`);
      t.equal(g.dtype, want[i].dtype, `${label}: dtype of output ${i}`);
      const e = relErr(g.v, want[i].v);
      t.ok(e <= tol, `${label}: output ${i} relative error ${e.toExponential(2)} <= ${tol}`);
    });
  }

  // [x shape, filter [kh, kw, c, oc], stride, pad]: YOLOv5n/s convs at 128 pixels, batch 2
  const convs: Array<[string, number[], number[], number, number]> = [
    ['stem 6x6/2 (n)', [2, 128, 128, 3], [6, 6, 3, 16], 2, 2],
    ['3x3/2 16->32 (n)', [2, 64, 64, 16], [3, 3, 16, 32], 2, 1],
    ['3x3/1 bottleneck 32 (s)', [2, 32, 32, 32], [3, 3, 32, 32], 1, 1],
    ['1x1 C3 cv1 64->32 (s)', [2, 32, 32, 64], [1, 1, 64, 32], 1, 0],
    ['1x1 SPPF 512->256 (s)', [2, 4, 4, 512], [1, 1, 512, 256], 1, 0],
    ['3x3/2 128->256 (n)', [2, 8, 8, 128], [3, 3, 128, 256], 2, 1],
  ];
  for (const [label, xs, ws, stride, pad] of convs) {
    const x = input(xs),
      w = input(ws, -0.2, 0.2);
    const p =
      pad === 0
        ? 'valid'
        : ([
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ] as [[number, number], [number, number], [number, number], [number, number]]);
    const oh = Math.floor((xs[1] + 2 * pad - ws[0]) / stride) + 1;
    const r = input([xs[0], oh, oh, ws[3]]);
    await compare(`conv ${label} forward`, ['Conv2D'], () => tf.conv2d(tensor(x) as tf.Tensor4D, tensor(w) as tf.Tensor4D, stride, p));
    await compare(`conv ${label} gradients`, ['Conv2DBackpropInput', 'Conv2DBackpropFilter'], () => {
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, p), tensor(r)));
      return tf.grads(f)([tensor(x), tensor(w)]);
    });
  }
  {
    const x = input([2, 16, 16, 64]),
      w = input([1, 1, 64, 255], -0.2, 0.2),
      b = input([255]);
    await compare('Detect 1x1 64->255 with bias', ['FusedConv2D'], () =>
      tf.fused.conv2d({ x: tensor(x) as tf.Tensor4D, filter: tensor(w) as tf.Tensor4D, strides: 1, pad: 'valid', bias: tensor(b) }),
    );
  }

  for (const shape of [
    [2, 64, 64, 16],
    [2, 8, 8, 256],
  ]) {
    const c = shape[3];
    const x = input(shape, -2, 3),
      g = input([c], 0.5, 1.5),
      b = input([c], -0.5, 0.5),
      r = input(shape);
    await compare(
      `BN+SiLU ${shape.join('x')} forward`,
      ['FlotillaBnAct'],
      () => {
        const o = batchNormAct(tensor(x), tensor(g) as tf.Tensor1D, tensor(b) as tf.Tensor1D, 1e-3, 'silu');
        return [o.y, o.mean, o.variance];
      },
      1e-5,
    );
    await compare(
      `BN+SiLU ${shape.join('x')} gradients`,
      ['FlotillaBnActGrad'],
      () => {
        const f = (a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(tf.mul(batchNormAct(a, gg as tf.Tensor1D, bb as tf.Tensor1D, 1e-3, 'silu').y, tensor(r)));
        return tf.grads(f)([tensor(x), tensor(g), tensor(b)]);
      },
      1e-4,
    );
    const m = input([c]),
      v = input([c], 0.1, 2);
    await compare(`eval BatchNorm ${shape.join('x')}`, ['FusedBatchNorm'], () =>
      tf.batchNorm(tensor(x), tensor(m) as tf.Tensor1D, tensor(v) as tf.Tensor1D, tensor(b) as tf.Tensor1D, tensor(g) as tf.Tensor1D, 1e-3),
    );
  }

  {
    const x = input([2, 4, 4, 128]),
      r = input([2, 4, 4, 128]);
    await compare('SPPF max-pool 5/1 same', ['MaxPool'], () => tf.maxPool(tensor(x) as tf.Tensor4D, 5, 1, 'same'));
    await compare('SPPF max-pool gradient', ['MaxPoolGrad'], () =>
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 5, 1, 'same'), tensor(r))))(tensor(x)),
    );
    const ties = { shape: [1, 6, 6, 2], v: Float32Array.from({ length: 72 }, (_, i) => Math.floor(i / 9)) };
    await compare('max-pool gradient with ties', ['MaxPoolGrad'], () =>
      tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 3, 2, 'same')))(tensor(ties)),
    );
  }

  // The loss's elementwise family on a prediction map [b, anchors, h, w, 85] with broadcasting
  {
    const p = input([2, 3, 16, 16, 85], -4, 4),
      q = input([1, 3, 1, 1, 85], 0.1, 2),
      r = input([2, 3, 16, 16, 1]);
    const bin: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
      ['Add', tf.add],
      ['Sub', tf.sub],
      ['Multiply', tf.mul],
      ['RealDiv', tf.div],
      ['Minimum', tf.minimum],
      ['Maximum', tf.maximum],
      ['LessEqual', tf.lessEqual],
      ['GreaterEqual', tf.greaterEqual],
    ];
    for (const [k, f] of bin) {
      await compare(`${k} broadcast [2,3,16,16,85] x [1,3,1,1,85]`, [k], () => f(tensor(p), tensor(q)));
      await compare(`${k} broadcast [2,3,16,16,85] x [2,3,16,16,1]`, [k], () => f(tensor(r), tensor(p)));
    }
    const un: Array<[string, (a: tf.Tensor) => tf.Tensor]> = [
      ['Neg', tf.neg],
      ['Square', tf.square],
      ['Sigmoid', tf.sigmoid],
      ['Softplus', tf.softplus],
      ['Atan', tf.atan],
      ['Relu', tf.relu],
      ['Step', (a) => tf.step(a, 0)],
    ];
    for (const [k, f] of un) await compare(`${k} [2,3,16,16,85]`, [k], () => f(tensor(p)));
    await compare('Cast float32 -> int32 -> float32', ['Cast'], () => [
      tf.cast(tensor(p), 'int32'),
      tf.cast(tf.cast(tensor(p), 'int32'), 'float32'),
    ]);
    await compare('Cast bool -> float32', ['Cast', 'GreaterEqual'], () => tf.cast(tf.greaterEqual(tensor(p), tensor(q)), 'float32'));
    await compare('ZerosLike', ['ZerosLike'], () => tf.zerosLike(tensor(p)));
    await compare('OneHot int32 and float32', ['OneHot'], () => [
      tf.oneHot(tf.tensor1d([0, 79, 3, 41], 'int32'), 80),
      tf.oneHot(tf.tensor1d([2, 0, 1], 'int32'), 5, 0.9, 0.1).toFloat(),
    ]);
  }

  // Layout: one strided copy
  {
    const x = input([2, 3, 85, 16, 16]),
      y = input([2, 16, 16, 32]),
      z = input([2, 16, 16, 32]);
    await compare('Transpose [2,3,85,16,16] -> [0,1,3,4,2]', ['Transpose'], () => tf.transpose(tensor(x), [0, 1, 3, 4, 2]));
    await compare('Slice', ['Slice'], () => tf.slice(tensor(x), [1, 0, 4, 2, 0], [1, 3, 2, 10, 16]));
    await compare('Concat channels', ['Concat'], () => tf.concat([tensor(y), tensor(z), tensor(y)], 3));
    await compare('SplitV [2,5,80]', ['SplitV'], () => tf.split(tensor(x), [2, 2, 1, 80], 2));
    await compare('PadV2', ['PadV2'], () =>
      tf.pad(
        tensor(y),
        [
          [0, 0],
          [1, 2],
          [3, 0],
          [0, 0],
        ],
        0.5,
      ),
    );
    await compare('Tile (nearest upsample)', ['Tile'], () => tf.tile(tensor(y).reshape([2, 16, 1, 16, 1, 32]), [1, 1, 2, 1, 2, 1]));
    await compare('Pack / Unpack', ['Pack', 'Unpack'], () => [
      tf.stack([tensor(y), tensor(z)], 1),
      ...tf.unstack(tensor(y), 3).slice(0, 3),
    ]);
  }

  // Reductions (contiguous, BN-like over all but channels, and non-contiguous)
  {
    const x = input([2, 32, 32, 64]);
    await compare('Sum over [0,1,2]', ['Sum'], () => tf.sum(tensor(x), [0, 1, 2]));
    await compare('Sum over [0,2] (moved last)', ['Sum'], () => tf.sum(tensor(x), [0, 2]));
    await compare('Sum of everything', ['Sum'], () => tf.sum(tensor(x)));
    await compare('Mean over [3], keepDims', ['Mean'], () => tf.mean(tensor(x), 3, true));
    await compare('Max over [1,2]', ['Max'], () => tf.max(tensor(x), [1, 2]));
  }

  // Beyond a YOLOv5 step: what else is ported, on small shapes
  {
    const x = input([2, 9, 11, 8]),
      w = input([3, 3, 8, 12], -0.3, 0.3);
    await compare('conv dilation 2, valid', ['Conv2D'], () =>
      tf.conv2d(tensor(x) as tf.Tensor4D, tensor(w) as tf.Tensor4D, 1, 'valid', 'NHWC', 2),
    );
    await compare(
      'conv stride 2 same (asymmetric padding) and its gradients',
      ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
      () => {
        const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
        return [tf.conv2d(tensor(x) as tf.Tensor4D, tensor(w) as tf.Tensor4D, 2, 'same'), ...tf.grads(f)([tensor(x), tensor(w)])];
      },
    );
    const bias = input([12]);
    await compare('FusedConv2D relu with bias', ['FusedConv2D'], () =>
      tf.fused.conv2d({
        x: tensor(x) as tf.Tensor4D,
        filter: tensor(w) as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: tensor(bias),
        activation: 'relu',
      }),
    );
    const a = input([3, 5, 7]),
      b = input([3, 7, 4]);
    await compare('BatchMatMul and transposes', ['BatchMatMul'], () => [
      tf.matMul(tensor(a), tensor(b)),
      tf.matMul(tensor(b), tensor(a), true, true),
    ]);
    const im = input([2, 5, 6, 4]),
      g = input([2, 10, 12, 4]);
    await compare('ResizeNearestNeighbor x2 and its gradient', ['ResizeNearestNeighbor', 'ResizeNearestNeighborGrad'], () => [
      tf.image.resizeNearestNeighbor(tensor(im) as tf.Tensor4D, [10, 12]),
      tf.grad((q: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(q as tf.Tensor4D, [10, 12]), tensor(g))))(tensor(im)),
    ]);
    const p = input([4, 6], 0.1, 3),
      q = input([4, 6], -2, 2);
    await compare('Select (where)', ['Select', 'Greater'], () => tf.where(tf.greater(tensor(q), 0), tensor(p), tensor(q)));
    await compare('ArgMax / ArgMin', ['ArgMax', 'ArgMin'], () => [tf.argMax(tensor(q), 1), tf.argMin(tensor(q), 0)]);
    await compare('Pow, Exp, Log, Sqrt, Rsqrt, Tanh, Abs', ['Pow', 'Exp', 'Log', 'Sqrt', 'Rsqrt', 'Tanh', 'Abs'], () => [
      tf.pow(tensor(p), tensor(q)),
      tf.exp(tensor(q)),
      tf.log(tensor(p)),
      tf.sqrt(tensor(p)),
      tf.rsqrt(tensor(p)),
      tf.tanh(tensor(q)),
      tf.abs(tensor(q)),
    ]);
    await compare('Prod, Min, OnesLike, Fill', ['Prod', 'Min', 'OnesLike', 'Fill'], () => [
      tf.prod(tensor(p), 1),
      tf.min(tensor(q), 0),
      tf.onesLike(tensor(q)),
      tf.fill([3, 2], 2.5),
    ]);
    const i1 = tf
      .tensor2d(
        [
          [7, -3],
          [9, 4],
        ],
        [2, 2],
        'int32',
      )
      .arraySync() as number[][];
    await compare(
      'int32 Add, Multiply, Maximum, FloorDiv, Equal with broadcasting',
      ['Add', 'Multiply', 'Maximum', 'FloorDiv', 'Equal'],
      () => {
        const m = tf.tensor2d(i1, [2, 2], 'int32'),
          r = tf.tensor1d([2, -5], 'int32');
        return [tf.add(m, r), tf.mul(m, r), tf.maximum(m, r), tf.floorDiv(m, r), tf.equal(m, tf.tensor1d([7, 4], 'int32'))];
      },
    );
  }

  // The optimizer's flat updates, bit for bit (no FMA contraction), with the step's scalars on the
  // backend; Range; constants given as numbers (by value, no upload) on either side of an op
  {
    const n = 5000;
    const p = input([n]),
      g = input([n + 3]),
      v = input([n], -0.1, 0.1);
    const ranges = [
      { begin: 0, end: 1200, group: 0 },
      { begin: 1200, end: 4100, group: 1 },
      { begin: 4100, end: n, group: 2 },
    ];
    for (const first of [true, false]) {
      await compare(
        `FlotillaNesterov (first ${first})`,
        ['FlotillaNesterov'],
        () =>
          nesterovStep(
            tensor(p) as tf.Tensor1D,
            tensor(g) as tf.Tensor1D,
            tensor(v) as tf.Tensor1D,
            tf.tensor1d([0.01, 0.02, 0.1]),
            tf.tensor1d([0, 5e-4, 0]),
            tf.tensor1d([0.937]),
            ranges,
            first,
            [true, false, true],
          ),
        0,
      );
    }
    const e = input([n]);
    await compare(
      'FlotillaEma',
      ['FlotillaEma'],
      () => emaStep(tensor(e) as tf.Tensor1D, tensor(p) as tf.Tensor1D, tf.tensor1d([0.9993]), tf.tensor1d([1 - 0.9993])),
      0,
    );
    await compare('Range float32 / int32', ['Range'], () => [tf.range(0, 1000, 1), tf.range(-7, 300, 3, 'int32'), tf.range(10, 0, -2)], 0);
    const uploads = backend.addon.stats().uploads;
    await compare(
      'constants by value: Multiply, Sub, RealDiv, Add, Greater',
      ['Multiply', 'Sub', 'RealDiv', 'Add', 'Greater'],
      () => {
        const x = tensor(p);
        return [tf.mul(x, 2), tf.sub(1, x), tf.div(x, 3), tf.add(tf.scalar(0.5), tf.scalar(0.25)), tf.greater(x, 0.5)];
      },
      0,
    );
    t.equal(backend.addon.stats().uploads - uploads, 1, 'only the one tensor went up: the constants went in by value');
  }

  // Gather / scatter as the loss builds targets
  {
    const p = input([2 * 3 * 16 * 16, 85]);
    const idx = tf.tensor1d([5, 700, 5, 1535, 0, 42], 'int32').arraySync() as number[];
    const rr = input([6, 85]);
    await compare('GatherV2 rows', ['GatherV2'], () => tf.gather(tensor(p), tf.tensor1d(idx, 'int32')));
    await compare('GatherV2 gradient (UnsortedSegmentSum)', ['UnsortedSegmentSum'], () =>
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.gather(a, tf.tensor1d(idx, 'int32')), tensor(rr))))(tensor(p)),
    );
    const u = input([4, 7]);
    await compare('ScatterNd with repeated indices', ['ScatterNd'], () =>
      tf.scatterND(
        tf.tensor2d(
          [
            [1, 2],
            [0, 0],
            [1, 2],
            [3, 4],
          ],
          [4, 2],
          'int32',
        ),
        tensor(u),
        [4, 5, 7],
      ),
    );
  }
}
