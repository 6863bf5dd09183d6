// Slice, Concat, SplitV, Pack, Unpack, Transpose, PadV2 and Tile, each as one or more boxes of
// the addon's single strided-copy kernel (src/copy.cu). Any 4-byte dtype.
import * as tf from '@tensorflow/tfjs';

import { attr, bitsOf, onDevice, size, stridesOf, type Args, type CudaKernel } from './common.ts';

interface Box {
  shape: number[];
  outStride: number[];
  inStride: number[];
  inDim: number[];
  before?: number[];
  tile?: boolean;
  fill?: number;
  inBase?: number;
  outBase?: number;
}

function copy(args: Args, src: tf.TensorInfo, dst: tf.TensorInfo, b: Box): void {
  if (size(b.shape) === 0) return;
  const be = args.backend;
  // A scalar box is a box of one element.
  const r = b.shape.length === 0;
  be.addon.stridedCopy(
    be.ptr(src),
    be.ptr(dst),
    r ? [1] : b.shape,
    r ? [1] : b.outStride,
    r ? [1] : b.inStride,
    r ? [1] : b.inDim,
    r ? [0] : (b.before ?? b.shape.map(() => 0)),
    b.tile ?? false,
    b.fill ?? 0,
    b.inBase ?? 0,
    b.outBase ?? 0,
  );
}

const fits = (shape: readonly number[]) => shape.length <= 8;

function slice(args: Args): tf.TensorInfo | null {
  const { x } = args.inputs;
  if (!onDevice(x) || !fits(x.shape)) return null;
  const [begin, sz] = tf.slice_util.parseSliceParams(x, attr<number[]>(args, 'begin'), attr<number[]>(args, 'size'));
  const out = args.backend.makeOutput(sz, x.dtype);
  const xs = stridesOf(x.shape);
  copy(args, x, out, { shape: sz, outStride: stridesOf(sz), inStride: xs, inDim: sz, inBase: begin.reduce((s, v, d) => s + v * xs[d], 0) });
  return out;
}

function concat(args: Args): tf.TensorInfo | null {
  const all = Object.values(args.inputs) as tf.TensorInfo[];
  if (all.length === 0 || all.some((t) => !onDevice(t) || t.dtype !== all[0].dtype) || all[0].shape.length === 0 || !fits(all[0].shape))
    return null;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), all[0].shape)[0];
  const shapes = all.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const out = args.backend.makeOutput(outShape, all[0].dtype);
  const os = stridesOf(outShape);
  let offset = 0;
  for (const t of all) {
    copy(args, t, out, {
      shape: [...t.shape],
      outStride: os,
      inStride: stridesOf(t.shape),
      inDim: [...t.shape],
      outBase: offset * os[axis],
    });
    offset += t.shape[axis];
  }
  return out;
}

function splitV(args: Args): tf.TensorInfo[] | null {
  const { x } = args.inputs;
  if (!onDevice(x) || x.shape.length === 0 || !fits(x.shape)) return null;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attr<number[] | number>(args, 'numOrSizeSplits'), axis);
  const xs = stridesOf(x.shape);
  let offset = 0;
  return sizes.map((s) => {
    const shape = x.shape.map((d, j) => (j === axis ? s : d));
    const out = args.backend.makeOutput(shape, x.dtype);
    copy(args, x, out, { shape, outStride: stridesOf(shape), inStride: xs, inDim: shape, inBase: offset * xs[axis] });
    offset += s;
    return out;
  });
}

function pack(args: Args): tf.TensorInfo | null {
  const all = Object.values(args.inputs) as tf.TensorInfo[];
  if (all.length === 0 || all.some((t) => !onDevice(t) || t.dtype !== all[0].dtype || !tf.util.arraysEqual(t.shape, all[0].shape)))
    return null;
  const shape = all[0].shape;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), [...shape, 1])[0];
  const outShape = [...shape.slice(0, axis), all.length, ...shape.slice(axis)];
  if (!fits(outShape)) return null;
  const out = args.backend.makeOutput(outShape, all[0].dtype);
  const os = stridesOf(outShape);
  const box = [...shape.slice(0, axis), 1, ...shape.slice(axis)];
  all.forEach((t, i) => copy(args, t, out, { shape: box, outStride: os, inStride: stridesOf(box), inDim: box, outBase: i * os[axis] }));
  return out;
}

function unpack(args: Args): tf.TensorInfo[] | null {
  const { value: x } = args.inputs;
  if (!onDevice(x) || x.shape.length === 0 || !fits(x.shape)) return null;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), x.shape)[0];
  const outShape = x.shape.filter((_, i) => i !== axis);
  const box = x.shape.map((d, i) => (i === axis ? 1 : d));
  const xs = stridesOf(x.shape);
  return Array.from({ length: x.shape[axis] }, (_, i) => {
    const out = args.backend.makeOutput(outShape, x.dtype);
    copy(args, x, out, { shape: box, outStride: stridesOf(box), inStride: xs, inDim: box, inBase: i * xs[axis] });
    return out;
  });
}

function transpose(args: Args): tf.TensorInfo | null {
  const { x } = args.inputs;
  const perm = attr<number[]>(args, 'perm');
  if (!onDevice(x) || perm.length !== x.shape.length || !fits(x.shape)) return null;
  const outShape = perm.map((p) => x.shape[p]);
  const out = args.backend.makeOutput(outShape, x.dtype);
  const xs = stridesOf(x.shape);
  copy(args, x, out, { shape: outShape, outStride: stridesOf(outShape), inStride: perm.map((p) => xs[p]), inDim: outShape });
  return out;
}

function pad(args: Args): tf.TensorInfo | null {
  const { x } = args.inputs;
  const paddings = attr<Array<[number, number]>>(args, 'paddings');
  if (!onDevice(x) || paddings.length !== x.shape.length || !fits(x.shape)) return null;
  const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const out = args.backend.makeOutput(outShape, x.dtype);
  copy(args, x, out, {
    shape: outShape,
    outStride: stridesOf(outShape),
    inStride: stridesOf(x.shape),
    inDim: [...x.shape],
    before: paddings.map((p) => p[0]),
    fill: bitsOf(Number(args.attrs.constantValue ?? 0), x.dtype),
  });
  return out;
}

function tile(args: Args): tf.TensorInfo | null {
  const { x } = args.inputs;
  const reps = attr<number[]>(args, 'reps');
  if (!onDevice(x) || reps.length !== x.shape.length || !fits(x.shape)) return null;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = args.backend.makeOutput(outShape, x.dtype);
  copy(args, x, out, { shape: outShape, outStride: stridesOf(outShape), inStride: stridesOf(x.shape), inDim: [...x.shape], tile: true });
  return out;
}

export const layoutKernels: CudaKernel[] = [
  { name: 'Slice', run: slice },
  { name: 'Concat', run: concat },
  { name: 'SplitV', run: splitV },
  { name: 'Pack', run: pack },
  { name: 'Unpack', run: unpack },
  { name: 'Transpose', run: transpose },
  { name: 'PadV2', run: pad },
  { name: 'Tile', run: tile },
];
