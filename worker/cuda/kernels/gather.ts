// GatherV2 (batchDims 0; out-of-range indices give zeros), UnsortedSegmentSum (the gradient of
// a gather) and ScatterNd, the last two by atomics on the device.
import * as tf from '@tensorflow/tfjs';

import { attr, onDevice, size, type Args, type CudaKernel } from './common.ts';

function gather(args: Args): tf.TensorInfo | null {
  const { x, indices } = args.inputs;
  if (!onDevice(x) || !indices || indices.dtype !== 'int32' || Number(args.attrs.batchDims ?? 0) !== 0 || x.shape.length === 0) return null;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), x.shape)[0];
  const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const be = args.backend;
  const out = be.makeOutput(outShape, x.dtype);
  if (size(outShape) > 0) {
    be.addon.gather(
      be.ptr(x),
      be.ptr(indices),
      be.ptr(out),
      size(x.shape.slice(0, axis)),
      x.shape[axis],
      size(indices.shape),
      size(x.shape.slice(axis + 1)),
    );
  }
  return out;
}

function segmentSum(args: Args): tf.TensorInfo | null {
  const { x, segmentIds } = args.inputs;
  if (!x || !segmentIds || x.dtype !== 'float32' || segmentIds.dtype !== 'int32') return null;
  const k = segmentIds.shape.length;
  if (k === 0 || segmentIds.shape.some((d, i) => d !== x.shape[i])) return null;
  const inner = x.shape.slice(k);
  const segments = attr<number>(args, 'numSegments');
  const be = args.backend;
  const out = be.makeOutput([segments, ...inner], 'float32');
  be.addon.segmentSum(be.ptr(x), be.ptr(segmentIds), be.ptr(out), size(segmentIds.shape), size(inner), segments);
  return out;
}

function scatterNd(args: Args): tf.TensorInfo | null {
  const { indices, updates } = args.inputs;
  if (!indices || !updates || indices.dtype !== 'int32' || updates.dtype !== 'float32') return null;
  const shape = attr<number[]>(args, 'shape');
  const { sliceRank, numUpdates, sliceSize, strides, outputSize } = tf.backend_util.calculateShapes(updates, indices, shape);
  if (sliceRank > 8) return null;
  const be = args.backend;
  const out = be.makeOutput([...shape], 'float32');
  be.addon.scatterNd(
    be.ptr(indices),
    be.ptr(updates),
    be.ptr(out),
    numUpdates,
    sliceRank,
    [...strides],
    sliceSize,
    sliceSize > 0 ? outputSize / sliceSize : 0,
  );
  return out;
}

export const gatherKernels: CudaKernel[] = [
  { name: 'GatherV2', run: gather },
  { name: 'UnsortedSegmentSum', run: segmentSum },
  { name: 'ScatterNd', run: scatterNd },
];
