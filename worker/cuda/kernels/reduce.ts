// Sum, Mean, Max, Min, Prod over any axes (float32), ArgMax/ArgMin: contiguous axes reduce in
// place, others after a strided copy that moves them last.
import * as tf from '@tensorflow/tfjs';

import { size, stridesOf, type Args, type CudaKernel } from './common.ts';

const REDUCE_OPS: Readonly<Record<string, [number, string]>> = {
  Sum: [0, 'axis'],
  Mean: [1, 'axis'],
  Max: [2, 'reductionIndices'],
  Min: [3, 'axis'],
  Prod: [4, 'axis'],
};

/** x moved so that `axes` come last (a new device tensor), or x itself when they already do. */
function axesLast(args: Args, x: tf.TensorInfo, axes: number[]): { t: tf.TensorInfo; temp: boolean } {
  const keep = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const perm = [...keep, ...axes];
  if (perm.every((p, i) => p === i)) return { t: x, temp: false };
  const be = args.backend;
  const outShape = perm.map((p) => x.shape[p]);
  const t = be.makeOutput(outShape, x.dtype);
  const xs = stridesOf(x.shape);
  be.addon.stridedCopy(
    be.ptr(x),
    be.ptr(t),
    outShape,
    stridesOf(outShape),
    perm.map((p) => xs[p]),
    outShape,
    outShape.map(() => 0),
    false,
    0,
    0,
    0,
  );
  return { t, temp: true };
}

function reduce(args: Args, op: number, axisAttr: string): tf.TensorInfo | null {
  const { x } = args.inputs;
  if (!x || x.dtype !== 'float32' || size(x.shape) === 0 || x.shape.length > 8) return null;
  const shape = x.shape;
  const axes = tf.util.parseAxisParam(args.attrs[axisAttr] as number | number[], shape).sort((p, q) => p - q);
  const keepDims = args.attrs.keepDims === true;
  const outShape = keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
  const be = args.backend;
  const out = be.makeOutput(outShape, 'float32');
  if (axes.length === 0) {
    be.addon.copy(be.ptr(out), be.ptr(x), size(shape) * 4);
    return out;
  }
  const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  if (contiguous) {
    const first = axes[0],
      last = axes[axes.length - 1];
    be.addon.reduce(
      be.ptr(x),
      be.ptr(out),
      size(shape.slice(0, first)),
      size(shape.slice(first, last + 1)),
      size(shape.slice(last + 1)),
      op,
    );
  } else {
    const { t, temp } = axesLast(args, x, axes);
    const r = size(axes.map((a) => shape[a]));
    be.addon.reduce(be.ptr(t), be.ptr(out), size(shape) / r, r, 1, op);
    if (temp) be.disposeData(t.dataId);
  }
  return out;
}

function argReduce(args: Args, max: boolean): tf.TensorInfo | null {
  const { x } = args.inputs;
  if (!x || x.dtype !== 'float32' || size(x.shape) === 0) return null;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const be = args.backend;
  const out = be.makeOutput(
    x.shape.filter((_, i) => i !== axis),
    'int32',
  );
  be.addon.argReduce(be.ptr(x), be.ptr(out), size(x.shape.slice(0, axis)), x.shape[axis], size(x.shape.slice(axis + 1)), max);
  return out;
}

export const reduceKernels: CudaKernel[] = [
  ...Object.entries(REDUCE_OPS).map(([name, [op, a]]): CudaKernel => ({ name, run: (args) => reduce(args, op, a) })),
  { name: 'ArgMax', run: (args) => argReduce(args, true) },
  { name: 'ArgMin', run: (args) => argReduce(args, false) },
];
