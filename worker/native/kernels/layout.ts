// Slice, SplitV, Concat, Tile, Transpose, PadV2: data movement done by the addon's row copies.
import * as tf from '@tensorflow/tfjs';

import { attr, f32, output, size, type KernelArgs, type NativeKernel } from '../cpu-backend.ts';
import { allocOutput } from '../memory-pool.ts';
import type { NativeAddon } from '../addon.ts';

function slice(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x } = args.inputs;
  const xv = f32(args.backend, x);
  if (!x || !xv || x.shape.length === 0) return null;
  const [begin, sz] = tf.slice_util.parseSliceParams(x, attr<number[]>(args, 'begin'), attr<number[]>(args, 'size'));
  const out = allocOutput(size(sz));
  if (out.length > 0) addon.slice(xv, [...x.shape], begin, out, sz);
  return output(args.backend, sz, out);
}

function splitV(args: KernelArgs, addon: NativeAddon): tf.TensorInfo[] | null {
  const { x } = args.inputs;
  const xv = f32(args.backend, x);
  if (!x || !xv || x.shape.length === 0) return null;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x, attr<number[] | number>(args, 'numOrSizeSplits'), axis);
  const outer = size(x.shape.slice(0, axis)),
    tail = size(x.shape.slice(axis + 1));
  const outs = sizes.map((s) => allocOutput(outer * s * tail));
  if (xv.length > 0)
    addon.split(
      xv,
      outer,
      outs,
      sizes.map((s) => s * tail),
    );
  return outs.map((o, i) =>
    output(
      args.backend,
      x.shape.map((d, j) => (j === axis ? sizes[i] : d)),
      o,
    ),
  );
}

function concat(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const all = Object.values(args.inputs);
  if (all.length === 0 || !all[0] || all[0].shape.length === 0) return null;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), all[0].shape)[0];
  const shapes: number[][] = [],
    vals: Float32Array[] = [];
  for (const t of all) {
    const v = f32(args.backend, t);
    if (!t || !v) return null;
    if (v.length > 0) {
      shapes.push(t.shape);
      vals.push(v);
    }
  }
  if (vals.length === 0) return null;
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const out = allocOutput(size(outShape));
  addon.concat(
    vals,
    shapes.map((s) => size(s.slice(axis))),
    out,
    size(outShape.slice(0, axis)),
  );
  return output(args.backend, outShape, out);
}

function unpack(args: KernelArgs, addon: NativeAddon): tf.TensorInfo[] | null {
  const { value } = args.inputs;
  const xv = f32(args.backend, value);
  if (!value || !xv || value.shape.length === 0) return null;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), value.shape)[0];
  const num = value.shape[axis];
  const outer = size(value.shape.slice(0, axis)),
    inner = size(value.shape.slice(axis + 1));
  const outShape = value.shape.filter((_, i) => i !== axis);
  const outs = Array.from({ length: num }, () => allocOutput(outer * inner));
  if (xv.length > 0)
    addon.split(
      xv,
      outer,
      outs,
      outs.map(() => inner),
    );
  return outs.map((o) => output(args.backend, [...outShape], o));
}

function pack(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const all = Object.values(args.inputs);
  if (all.length === 0 || !all[0]) return null;
  const shape = all[0].shape;
  const axis = tf.util.parseAxisParam(attr<number>(args, 'axis'), [...shape, 1])[0];
  const vals: Float32Array[] = [];
  for (const t of all) {
    const v = f32(args.backend, t);
    if (!t || !v || !tf.util.arraysEqual(t.shape, shape)) return null;
    vals.push(v);
  }
  const outShape = [...shape.slice(0, axis), all.length, ...shape.slice(axis)];
  const out = allocOutput(size(outShape));
  const inner = size(shape.slice(axis));
  if (out.length > 0)
    addon.concat(
      vals,
      vals.map(() => inner),
      out,
      size(shape.slice(0, axis)),
    );
  return output(args.backend, outShape, out);
}

function tile(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x } = args.inputs;
  const xv = f32(args.backend, x);
  const reps = attr<number[]>(args, 'reps');
  if (!x || !xv || x.shape.length === 0 || reps.length !== x.shape.length) return null;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = allocOutput(size(outShape));
  if (out.length > 0) addon.tile(xv, [...x.shape], [...reps], out);
  return output(args.backend, outShape, out);
}

function transpose(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x } = args.inputs;
  const xv = f32(args.backend, x);
  const perm = attr<number[]>(args, 'perm');
  if (!x || !xv || x.shape.length === 0 || perm.length !== x.shape.length) return null;
  const outShape = perm.map((p) => x.shape[p]);
  const out = allocOutput(xv.length);
  if (out.length === 0) return output(args.backend, outShape, out);
  // Runs of input dims that stay adjacent and in order move as one dim.
  const groups: number[][] = [];
  for (const p of perm) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1] === p - 1) g.push(p);
    else groups.push([p]);
  }
  const order = [...groups].sort((g, h) => g[0] - h[0]);
  const cShape = order.map((g) => size(g.map((p) => x.shape[p])));
  const cPerm = groups.map((g) => order.indexOf(g));
  addon.transpose(xv, cShape, cPerm, out);
  return output(args.backend, outShape, out);
}

function pad(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x } = args.inputs;
  const xv = f32(args.backend, x);
  const paddings = attr<Array<[number, number]>>(args, 'paddings');
  if (!x || !xv || x.shape.length === 0 || paddings.length !== x.shape.length) return null;
  const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const out = allocOutput(size(outShape));
  if (out.length > 0)
    addon.pad(
      xv,
      [...x.shape],
      paddings.map((p) => p[0]),
      out,
      outShape,
      Number(args.attrs.constantValue ?? 0),
    );
  return output(args.backend, outShape, out);
}

export const layoutKernels: NativeKernel[] = [
  { name: 'Slice', run: slice },
  { name: 'SplitV', run: splitV },
  { name: 'Concat', run: concat },
  { name: 'Tile', run: tile },
  { name: 'Unpack', run: unpack },
  { name: 'Pack', run: pack },
  { name: 'Transpose', run: transpose },
  { name: 'PadV2', run: pad },
];
