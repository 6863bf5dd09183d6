// GatherV2 (batchDims 0) and UnsortedSegmentSum, the gradient of a gather. The JS segment sum
// loops once over the input per segment, which a loss gathering from a whole prediction map
// turns into minutes.
import * as tf from '@tensorflow/tfjs';

import { attr, f32, i32, output, size, type KernelArgs, type NativeKernel } from '../cpu-backend.ts';
import { allocOutput, allocZeros } from '../memory-pool.ts';
import type { NativeAddon } from '../addon.ts';

function gather(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x, indices } = args.inputs;
  const xv = f32(args.backend, x),
    iv = i32(args.backend, indices);
  if (!x || !indices || !xv || !iv || Number(args.attrs.batchDims ?? 0) !== 0 || x.shape.length === 0) return null;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), x.shape)[0];
  const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const out = allocOutput(size(outShape));
  if (out.length > 0 && !addon.gather(xv, iv, out, size(x.shape.slice(0, axis)), x.shape[axis], size(x.shape.slice(axis + 1)))) {
    return null;
  }
  return output(args.backend, outShape, out);
}

function segmentSum(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x, segmentIds } = args.inputs;
  const xv = f32(args.backend, x),
    sv = i32(args.backend, segmentIds);
  if (!x || !segmentIds || !xv || !sv) return null;
  const k = segmentIds.shape.length;
  if (k === 0 || segmentIds.shape.some((d, i) => d !== x.shape[i])) return null;
  const inner = x.shape.slice(k);
  const outShape = [attr<number>(args, 'numSegments'), ...inner];
  const out = allocOutput(size(outShape));
  if (out.length > 0) addon.segmentSum(xv, sv, out, size(inner));
  return output(args.backend, outShape, out);
}

// ScatterNd sums updates into zeros at the flattened slice indices.
function scatterNd(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { indices, updates } = args.inputs;
  const uv = f32(args.backend, updates),
    iv = i32(args.backend, indices);
  if (!indices || !updates || !uv || !iv) return null;
  const shape = attr<number[]>(args, 'shape');
  const { sliceRank, numUpdates, sliceSize, strides, outputSize } = tf.backend_util.calculateShapes(updates, indices, shape);
  const slices = sliceSize > 0 ? outputSize / sliceSize : 0;
  const ids = new Int32Array(numUpdates);
  for (let i = 0; i < numUpdates; i++) {
    let flat = 0;
    for (let j = 0; j < sliceRank; j++) flat += iv[i * sliceRank + j] * strides[j];
    if (flat < 0 || flat >= slices) return null;
    ids[i] = flat;
  }
  const out = allocZeros(outputSize);
  if (out.length > 0 && numUpdates > 0) addon.scatterAdd(uv, ids, out, sliceSize);
  return output(args.backend, [...shape], out);
}

export const gatherKernels: NativeKernel[] = [
  { name: 'ScatterNd', run: scatterNd },
  { name: 'GatherV2', run: gather },
  { name: 'UnsortedSegmentSum', run: segmentSum },
];
