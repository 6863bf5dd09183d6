// MaxPool and MaxPoolGrad (NHWC, no dilation), ResizeNearestNeighbor and its gradient.
import * as tf from '@tensorflow/tfjs';

import { nearestMap, poolShape } from '../../native/kernels/pool.ts';
import { attr, size, type Args, type CudaKernel } from './common.ts';

function maxPool(args: Args): tf.TensorInfo | null {
  const { x } = args.inputs;
  if (!x || x.dtype !== 'float32') return null;
  const s = poolShape(args, x.shape);
  if (!s) return null;
  const be = args.backend;
  const out = be.makeOutput([s[0], s[4], s[5], s[3]], 'float32');
  be.addon.maxPool(be.ptr(x), be.ptr(out), s);
  return out;
}

function maxPoolGrad(args: Args): tf.TensorInfo | null {
  const { dy, input } = args.inputs;
  if (!dy || !input || dy.dtype !== 'float32' || input.dtype !== 'float32') return null;
  const s = poolShape(args, input.shape);
  if (!s || s[4] !== dy.shape[1] || s[5] !== dy.shape[2]) return null;
  const be = args.backend;
  const out = be.makeOutput([...input.shape], 'float32');
  be.addon.maxPoolGrad(be.ptr(dy), be.ptr(input), be.ptr(out), s);
  return out;
}

function resize(args: Args): tf.TensorInfo | null {
  const { images } = args.inputs;
  if (!images || images.dtype !== 'float32' || images.shape.length !== 4) return null;
  const [oh, ow] = attr<[number, number]>(args, 'size');
  const [n, h, w, c] = images.shape;
  const align = args.attrs.alignCorners === true,
    half = args.attrs.halfPixelCenters === true;
  const be = args.backend;
  const out = be.makeOutput([n, oh, ow, c], 'float32');
  if (size(out.shape) > 0) {
    be.addon.resizeNearest(
      be.ptr(images),
      be.ptr(out),
      [n, h, w, c, oh, ow],
      nearestMap(h, oh, align, half),
      nearestMap(w, ow, align, half),
    );
  }
  return out;
}

// The adjoint of the forward map (tfjs's JS gradient ignores halfPixelCenters and is wrong for batches > 1).
function resizeGrad(args: Args): tf.TensorInfo | null {
  const { images, dy } = args.inputs;
  if (!images || !dy || dy.dtype !== 'float32' || images.shape.length !== 4) return null;
  const [n, h, w, c] = images.shape;
  const [, oh, ow] = dy.shape;
  const align = args.attrs.alignCorners === true;
  const be = args.backend;
  const out = be.makeOutput([n, h, w, c], 'float32');
  if (size(out.shape) > 0) {
    be.addon.resizeNearestGrad(
      be.ptr(dy),
      be.ptr(out),
      [n, h, w, c, oh, ow],
      nearestMap(h, oh, align, false),
      nearestMap(w, ow, align, false),
    );
  }
  return out;
}

export const poolKernels: CudaKernel[] = [
  { name: 'MaxPool', run: maxPool },
  { name: 'MaxPoolGrad', run: maxPoolGrad },
  { name: 'ResizeNearestNeighbor', run: resize },
  { name: 'ResizeNearestNeighborGrad', run: resizeGrad },
];
