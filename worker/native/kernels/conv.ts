// Conv2D, FusedConv2D and both conv gradients, NHWC, on the addon's im2col + sgemm.
import * as tf from '@tensorflow/tfjs';

import { attr, f32, output, size, type KernelArgs, type NativeKernel } from '../cpu-backend.ts';
import { allocOutput } from '../memory-pool.ts';
import { activationCode } from './activation.ts';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** The addon's 15-number conv description, or null for layouts it does not cover (NCHW); the cuda backend's kernels use it too. */
export function convShape(
  args: Pick<KernelArgs, 'attrs'>,
  xShape: number[],
  filterShape: number[],
  withDilations: boolean,
): number[] | null {
  const dataFormat = attr<string | undefined>(args, 'dataFormat') ?? 'NHWC';
  if (dataFormat !== 'NHWC' || xShape.length !== 4 || filterShape.length !== 4) return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attr<number | [number, number]>(args, 'strides'),
    withDilations ? (attr<number | [number, number] | undefined>(args, 'dilations') ?? 1) : 1,
    attr<Pad>(args, 'pad'),
    attr<'floor' | 'round' | 'ceil' | undefined>(args, 'dimRoundingMode'),
    false,
    'channelsLast',
  );
  if (info.inChannels !== filterShape[2]) return null;
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}

function forward(args: KernelArgs, fused: boolean, addon: Parameters<NativeKernel['run']>[1]): tf.TensorInfo | null {
  const { x, filter, bias } = args.inputs;
  const xv = f32(args.backend, x),
    wv = f32(args.backend, filter);
  if (!x || !filter || !xv || !wv) return null;
  let act = 0;
  let bv: Float32Array | null = null;
  if (fused) {
    const code = activationCode(args.attrs.activation);
    if (code === null) return null;
    act = code;
    if (bias) {
      bv = f32(args.backend, bias);
      if (!bv || bv.length !== filter.shape[3]) return null;
    }
  }
  const s = convShape(args, x.shape, filter.shape, true);
  if (!s) return null;
  const outShape = [s[0], s[4], s[5], s[6]];
  const out = allocOutput(size(outShape));
  addon.conv2d(xv, wv, out, s, bv, act, Number(args.attrs.leakyreluAlpha ?? 0.2));
  return output(args.backend, outShape, out);
}

export const convKernels: NativeKernel[] = [
  { name: 'Conv2D', run: (args, addon) => forward(args, false, addon) },
  { name: 'FusedConv2D', run: (args, addon) => forward(args, true, addon) },
  {
    name: 'Conv2DBackpropInput',
    run(args, addon) {
      const { dy, filter } = args.inputs;
      const dyv = f32(args.backend, dy),
        wv = f32(args.backend, filter);
      if (!dy || !filter || !dyv || !wv) return null;
      const inputShape = attr<number[]>(args, 'inputShape');
      const s = convShape(args, inputShape, filter.shape, false);
      if (!s || s[4] !== dy.shape[1] || s[5] !== dy.shape[2]) return null;
      const out = allocOutput(size(inputShape));
      addon.conv2dBackpropInput(dyv, wv, out, s);
      return output(args.backend, [...inputShape], out);
    },
  },
  {
    name: 'Conv2DBackpropFilter',
    run(args, addon) {
      const { x, dy } = args.inputs;
      const xv = f32(args.backend, x),
        dyv = f32(args.backend, dy);
      if (!x || !dy || !xv || !dyv) return null;
      const filterShape = attr<number[]>(args, 'filterShape');
      const s = convShape(args, x.shape, filterShape, false);
      if (!s || s[4] !== dy.shape[1] || s[5] !== dy.shape[2]) return null;
      const out = allocOutput(size(filterShape));
      addon.conv2dBackpropFilter(xv, dyv, out, s);
      return output(args.backend, [...filterShape], out);
    },
  },
];
