// Conv2D, FusedConv2D (bias + activation), both conv gradients and BatchMatMul on the addon's
// GEMM (cuBLAS on the device, OpenBLAS in the host variant). NHWC only.
import * as tf from '@tensorflow/tfjs';

import { activationCode } from '../../native/kernels/activation.ts';
import { convShape } from '../../native/kernels/conv.ts';
import { attr, size, type Args, type CudaKernel } from './common.ts';

const f32 = (t: tf.TensorInfo | undefined): t is tf.TensorInfo => t !== undefined && t.dtype === 'float32';

function forward(args: Args, fused: boolean): tf.TensorInfo | null {
  const { x, filter, bias } = args.inputs;
  if (!f32(x) || !f32(filter)) return null;
  let act = 0;
  if (fused) {
    const code = activationCode(args.attrs.activation);
    if (code === null || args.inputs.preluActivationWeights) return null;
    act = code;
    if (bias && (!f32(bias) || size(bias.shape) !== filter.shape[3])) return null;
  }
  const s = convShape(args, x.shape, filter.shape, true);
  if (!s) return null;
  const be = args.backend;
  const out = be.makeOutput([s[0], s[4], s[5], s[6]], 'float32');
  be.addon.conv2d(
    be.ptr(x),
    be.ptr(filter),
    be.ptr(out),
    s,
    fused && bias ? be.ptr(bias) : 0,
    act,
    Number(args.attrs.leakyreluAlpha ?? 0.2),
  );
  return out;
}

function backpropInput(args: Args): tf.TensorInfo | null {
  const { dy, filter } = args.inputs;
  if (!f32(dy) || !f32(filter)) return null;
  const inputShape = attr<number[]>(args, 'inputShape');
  const s = convShape(args, inputShape, filter.shape, false);
  if (!s || s[4] !== dy.shape[1] || s[5] !== dy.shape[2]) return null;
  const be = args.backend;
  const out = be.makeOutput([...inputShape], 'float32');
  be.addon.conv2dBackpropInput(be.ptr(dy), be.ptr(filter), be.ptr(out), s);
  return out;
}

function backpropFilter(args: Args): tf.TensorInfo | null {
  const { x, dy } = args.inputs;
  if (!f32(x) || !f32(dy)) return null;
  const filterShape = attr<number[]>(args, 'filterShape');
  const s = convShape(args, x.shape, filterShape, false);
  if (!s || s[4] !== dy.shape[1] || s[5] !== dy.shape[2]) return null;
  const be = args.backend;
  const out = be.makeOutput([...filterShape], 'float32');
  be.addon.conv2dBackpropFilter(be.ptr(x), be.ptr(dy), be.ptr(out), s);
  return out;
}

function batchMatMul(args: Args): tf.TensorInfo | null {
  const { a, b } = args.inputs;
  if (!f32(a) || !f32(b) || a.shape.length < 2 || b.shape.length < 2) return null;
  const ta = args.attrs.transposeA === true,
    tb = args.attrs.transposeB === true;
  const ra = a.shape.length,
    rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2],
    k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const k2 = tb ? b.shape[rb - 1] : b.shape[rb - 2],
    n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== k2) return null;
  const batchA = size(a.shape.slice(0, -2)),
    batchB = size(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const be = args.backend;
  const out = be.makeOutput([...outer, m, n], 'float32');
  be.addon.matMul(be.ptr(a), be.ptr(b), be.ptr(out), batchA, batchB, m, n, k, ta, tb);
  return out;
}

export const convKernels: CudaKernel[] = [
  { name: 'Conv2D', run: (args) => forward(args, false) },
  { name: 'FusedConv2D', run: (args) => forward(args, true) },
  { name: 'Conv2DBackpropInput', run: backpropInput },
  { name: 'Conv2DBackpropFilter', run: backpropFilter },
  { name: 'BatchMatMul', run: batchMatMul },
];
