import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { defaultThreads, hasAvx512, loadAddon } from '../../worker/native/index.ts';
import { compare, rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const { reg } = s;
  // [n, h, w, cin, cout, k, stride, pad]: YOLOv5n-like layers, odd sizes, stride 2, 1x1.
  const cases: Array<[number, number, number, number, number, number, number, 'same' | 'valid' | number]> = [
    [2, 16, 16, 3, 8, 6, 2, 2],
    [2, 12, 12, 8, 16, 3, 2, 1],
    [3, 9, 7, 5, 6, 3, 1, 'same'],
    [2, 10, 10, 16, 8, 1, 1, 0],
    [1, 11, 13, 4, 4, 3, 2, 'valid'],
    [2, 8, 8, 6, 10, 5, 1, 'same'],
    [2, 9, 10, 4, 5, 3, 1, 'valid'],
    [1, 12, 12, 8, 8, 3, 1, 1],
  ];
  // Large enough (> 2M multiply-adds) that the kernels split the work over the thread team;
  // run with 3 threads so the blocks are uneven and the image split of dx leaves one thread
  // with more images than another.
  // Shapes of the direct kernel (conv_direct.cc: 16/32/64 output channels, AVX-512 builds):
  // the 6x6 stem, widths that leave a remainder after the pixel blocks, TF 'same' padding
  // that pads one side only, and its stride-1 input gradient (a direct conv of the flipped filter).
  cases.push(
    [4, 40, 40, 3, 16, 6, 2, 2],
    [2, 13, 11, 8, 32, 3, 1, 1],
    [2, 12, 12, 4, 16, 3, 2, 'same'],
    [3, 9, 14, 16, 64, 3, 1, 1],
    [2, 10, 10, 64, 64, 3, 2, 1],
    [2, 7, 9, 5, 16, 3, 1, 'valid'],
    // strided input gradients of the direct kernel (16/32/64 input channels), odd sizes, 'same'
    [3, 15, 13, 32, 16, 3, 2, 1],
    [2, 11, 12, 16, 8, 3, 2, 'same'],
    [2, 9, 9, 64, 24, 3, 2, 'valid'],
    [2, 14, 14, 16, 16, 6, 2, 2],
  );
  const teamCases: typeof cases = [
    [3, 40, 40, 16, 32, 3, 2, 1],
    [2, 34, 34, 16, 16, 3, 1, 1],
    [4, 24, 24, 32, 48, 1, 1, 0],
    [2, 64, 64, 3, 16, 6, 2, 2],
  ];
  const load = loadAddon();
  const directBefore = load.ok ? load.addon.directConvCalls() : 0;
  for (const [n, h, w, ci, co, k, st, pad] of [...cases, ...teamCases]) {
    const team = teamCases.some((c) => c[0] === n && c[1] === h && c[3] === ci && c[5] === k);
    if (load.ok) load.addon.setThreads(team ? 3 : defaultThreads());
    const label = `n${n} ${h}x${w}x${ci}->${co} k${k} s${st} pad ${pad}${team ? ', 3 threads' : ''}`;
    const x = rand([n, h, w, ci]);
    const f = rand([k, k, ci, co]);
    const b = rand([co]);
    compare(t, reg, 'Conv2D', `conv2d ${label}`, () => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, st, pad));
    compare(t, reg, 'FusedConv2D', `fused relu ${label}`, () =>
      tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: st, pad, bias: b, activation: 'relu' }),
    );
    compare(t, reg, 'FusedConv2D', `fused sigmoid ${label}`, () =>
      tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: st, pad, bias: b, activation: 'sigmoid' }),
    );
    const y = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, st, pad);
    const dy = rand(y.shape);
    compare(t, reg, 'Conv2DBackpropInput', `dx ${label}`, () =>
      tf.conv2dTranspose(dy as tf.Tensor4D, f as tf.Tensor4D, [n, h, w, ci], st, pad),
    );
    compare(t, reg, 'Conv2DBackpropFilter', `dw ${label}`, () =>
      tf.grad((ff: tf.Tensor) =>
        tf
          .conv2d(x as tf.Tensor4D, ff as tf.Tensor4D, st, pad)
          .mul(dy)
          .sum(),
      )(f),
    );
  }
  if (load.ok) load.addon.setThreads(defaultThreads());
  if (load.ok && hasAvx512()) {
    t.ok(load.addon.directConvCalls() > directBefore, `the direct kernel ran (${load.addon.directConvCalls() - directBefore} calls)`);
  } else {
    t.comment('the direct conv kernel is built for AVX-512 only; this CPU has none, so only im2col + sgemm ran');
  }
  const x = rand([2, 9, 9, 3]);
  const f = rand([3, 3, 3, 4]);
  compare(t, reg, 'Conv2D', 'conv2d dilation 2', () => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same', 'NHWC', 2));
}
