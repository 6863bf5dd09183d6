// Sum, Mean, Max, Min, Prod over any axes: contiguous axes reduce in place, others after a
// native transpose that moves them last.
import * as tf from '@tensorflow/tfjs';

import { f32, output, size, type KernelArgs, type NativeKernel } from '../cpu-backend.ts';
import { allocOutput } from '../memory-pool.ts';
import type { NativeAddon } from '../addon.ts';

/** tfjs kernel name → [the addon's reduce op code (src/reduce.cc), the attr holding the axes]. */
const REDUCE_OPS: Readonly<Record<string, [number, string]>> = {
  Sum: [0, 'axis'],
  Mean: [1, 'axis'],
  Max: [2, 'reductionIndices'],
  Min: [3, 'axis'],
  Prod: [4, 'axis'],
};

function reduce(args: KernelArgs, addon: NativeAddon, op: number, axisAttr: string): tf.TensorInfo | null {
  const { x } = args.inputs;
  let xv = f32(args.backend, x);
  if (!x || !xv || xv.length === 0) return null;
  const shape = x.shape;
  const axes = tf.util.parseAxisParam(args.attrs[axisAttr] as number | number[], shape).sort((p, q) => p - q);
  const keepDims = args.attrs.keepDims === true;
  const outShape = keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
  const out = allocOutput(size(outShape));
  const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  if (axes.length === 0) {
    out.set(xv);
  } else if (contiguous) {
    const first = axes[0],
      last = axes[axes.length - 1];
    addon.reduce(xv, out, size(shape.slice(0, first)), size(shape.slice(first, last + 1)), size(shape.slice(last + 1)), op);
  } else {
    const keep = shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const moved = new Float32Array(xv.length);
    addon.transpose(xv, [...shape], [...keep, ...axes], moved);
    xv = moved;
    addon.reduce(xv, out, size(keep.map((i) => shape[i])), size(axes.map((i) => shape[i])), 1, op);
  }
  return output(args.backend, outShape, out);
}

export const reduceKernels: NativeKernel[] = Object.entries(REDUCE_OPS).map(
  ([name, [op, axisAttr]]): NativeKernel => ({ name, run: (args, addon) => reduce(args, addon, op, axisAttr) }),
);
