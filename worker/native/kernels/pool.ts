// MaxPool and MaxPoolGrad (NHWC, no dilation), ResizeNearestNeighbor and its gradient.
import * as tf from '@tensorflow/tfjs';

import { attr, f32, output, size, type KernelArgs, type NativeKernel } from '../cpu-backend.ts';
import { allocOutput } from '../memory-pool.ts';
import type { NativeAddon } from '../addon.ts';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** The addon's 12-number pool description (the cuda backend's kernels use it too). */
export function poolShape(args: Pick<KernelArgs, 'attrs'>, xShape: number[]): number[] | null {
  if (xShape.length !== 4) return null;
  const info = tf.backend_util.computePool2DInfo(
    xShape as Shape4,
    attr<number | [number, number]>(args, 'filterSize'),
    attr<number | [number, number]>(args, 'strides'),
    1,
    attr<Pad>(args, 'pad'),
    attr<'floor' | 'round' | 'ceil' | undefined>(args, 'dimRoundingMode'),
  );
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}

function maxPool(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x } = args.inputs;
  const xv = f32(args.backend, x);
  if (!x || !xv) return null;
  const s = poolShape(args, x.shape);
  if (!s) return null;
  const outShape = [s[0], s[4], s[5], s[3]];
  const out = allocOutput(size(outShape));
  if (out.length > 0) addon.maxPool(xv, out, s);
  return output(args.backend, outShape, out);
}

function maxPoolGrad(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { dy, input } = args.inputs;
  const dyv = f32(args.backend, dy),
    xv = f32(args.backend, input);
  if (!dy || !input || !dyv || !xv) return null;
  const s = poolShape(args, input.shape);
  if (!s || s[4] !== dy.shape[1] || s[5] !== dy.shape[2]) return null;
  const out = allocOutput(xv.length);
  if (out.length > 0) addon.maxPoolGrad(dyv, xv, out, s);
  return output(args.backend, [...input.shape], out);
}

/** Source index of every output row/col, by the formula of tfjs's cpu kernel. */
export function nearestMap(inSize: number, outSize: number, alignCorners: boolean, halfPixel: boolean): Int32Array {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const map = new Int32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const frac = halfPixel ? ratio * (i + 0.5) : ratio * i;
    let src = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixel) src = Math.max(0, src);
    map[i] = src;
  }
  return map;
}

function resize(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { images } = args.inputs;
  const xv = f32(args.backend, images);
  if (!images || !xv || images.shape.length !== 4) return null;
  const [oh, ow] = attr<[number, number]>(args, 'size');
  const [n, h, w, c] = images.shape;
  const align = args.attrs.alignCorners === true,
    half = args.attrs.halfPixelCenters === true;
  const out = allocOutput(n * oh * ow * c);
  if (out.length > 0) {
    addon.resizeNearest(xv, out, [n, h, w, c, oh, ow], nearestMap(h, oh, align, half), nearestMap(w, ow, align, half));
  }
  return output(args.backend, [n, oh, ow, c], out);
}

// The JS gradient ignores halfPixelCenters; this one is the adjoint of the same forward map.
function resizeGrad(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { images, dy } = args.inputs;
  const dyv = f32(args.backend, dy);
  if (!images || !dy || !dyv || images.shape.length !== 4 || images.dtype !== 'float32') return null;
  const [n, h, w, c] = images.shape;
  const [, oh, ow] = dy.shape;
  const align = args.attrs.alignCorners === true;
  const out = allocOutput(n * h * w * c);
  if (out.length > 0) {
    addon.resizeNearestGrad(dyv, out, [n, h, w, c, oh, ow], nearestMap(h, oh, align, false), nearestMap(w, ow, align, false));
  }
  return output(args.backend, [n, h, w, c], out);
}

export const poolKernels: NativeKernel[] = [
  { name: 'MaxPool', run: maxPool },
  { name: 'MaxPoolGrad', run: maxPoolGrad },
  { name: 'ResizeNearestNeighbor', run: resize },
  { name: 'ResizeNearestNeighborGrad', run: resizeGrad },
];
