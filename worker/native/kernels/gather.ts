// GatherV2 (batchDims 0) and UnsortedSegmentSum, the gradient of a gather. The JS segment sum
// loops once over the input per segment, which a loss gathering from a whole prediction map
// turns into minutes.
import * as tf from '@tensorflow/tfjs';

import { attr, f32, i32, output, size, type KernelArgs, type NativeKernel } from '../cpu-backend.ts';
import type { NativeAddon } from '../addon.ts';

function gather(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x, indices } = args.inputs;
  const xv = f32(args.backend, x), iv = i32(args.backend, indices);
  if (!x || !indices || !xv || !iv || Number(args.attrs.batchDims ?? 0) !== 0 || x.shape.length === 0) return null;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), x.shape)[0];
  const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const out = new Float32Array(size(outShape));
  if (out.length > 0 && !addon.gather(xv, iv, out, size(x.shape.slice(0, axis)), x.shape[axis], size(x.shape.slice(axis + 1)))) {
    return null;
  }
  return output(args.backend, outShape, out);
}

function segmentSum(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x, segmentIds } = args.inputs;
  const xv = f32(args.backend, x), sv = i32(args.backend, segmentIds);
  if (!x || !segmentIds || !xv || !sv) return null;
  const k = segmentIds.shape.length;
  if (k === 0 || segmentIds.shape.some((d, i) => d !== x.shape[i])) return null;
  const inner = x.shape.slice(k);
  const outShape = [attr<number>(args, 'numSegments'), ...inner];
  const out = new Float32Array(size(outShape));
  if (out.length > 0) addon.segmentSum(xv, sv, out, size(inner));
  return output(args.backend, outShape, out);
}

export const gatherKernels: NativeKernel[] = [
  { name: 'GatherV2', run: gather },
  { name: 'UnsortedSegmentSum', run: segmentSum },
];
