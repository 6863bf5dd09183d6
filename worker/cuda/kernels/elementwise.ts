// Broadcasting binary ops, comparisons, unary maps, casts, fills, one-hot, select, AddN,
// Reshape/Identity (shared storage).
import * as tf from '@tensorflow/tfjs';

import { BINARY_OPS, UNARY_OPS, collapseBroadcast } from '../../native/kernels/index.ts';
import { unaryParams } from '../../native/kernels/elementwise.ts';
import { DTYPE_CODE } from '../backend.ts';
import { attr, bitsOf, onDevice, share, size, type Args, type CudaKernel } from './common.ts';

/** Comparisons and logic (bool results), numbered after the arithmetic ops (src/elementwise.cu). */
const COMPARE_OPS: Readonly<Record<string, number>> = {
  Less: 8,
  LessEqual: 9,
  Greater: 10,
  GreaterEqual: 11,
  Equal: 12,
  NotEqual: 13,
  LogicalAnd: 14,
  LogicalOr: 15,
};
const FLOOR_DIV = 16;

function binary(args: Args, name: string, op: number): tf.TensorInfo | null {
  const { a, b } = args.inputs;
  if (!onDevice(a) || !onDevice(b) || a.dtype !== b.dtype) return null;
  const compare = op >= 8 && op <= 15;
  if (
    a.dtype !== 'float32' &&
    !compare &&
    op !== FLOOR_DIV &&
    !['Add', 'Sub', 'Multiply', 'Maximum', 'Minimum', 'SquaredDifference'].includes(name)
  ) {
    return null; // int32 RealDiv/Pow: the CPU kernel's rules
  }
  if (a.dtype === 'bool' && !compare) return null;
  const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const out = args.backend.makeOutput(outShape, compare ? 'bool' : a.dtype);
  if (size(outShape) === 0) return out;
  const be = args.backend;
  // a constant given as a number goes in by value when the other operand fills the output
  const n = size(outShape);
  const sb = size(b.shape) === 1 && size(a.shape) === n ? be.hostScalar(b) : null;
  const sa = sb === null && size(a.shape) === 1 && size(b.shape) === n ? be.hostScalar(a) : null;
  if (sb !== null && n === 1 && !compare) {
    const va = be.hostScalar(a);
    if (va !== null) {
      // both constants (the seed gradient of a scalar times a number): the output starts as a's value
      be.addon.fill(be.ptr(out), 1, bitsOf(va, a.dtype));
      be.addon.binaryScalar(be.ptr(out), sb, false, be.ptr(out), 1, op, a.dtype === 'float32' ? 0 : 1);
      return out;
    }
  }
  if (sb !== null || sa !== null) {
    const left = sa !== null;
    be.addon.binaryScalar(be.ptr(left ? b : a), left ? sa! : sb!, left, be.ptr(out), n, op, a.dtype === 'float32' ? 0 : 1);
    return out;
  }
  const c = collapseBroadcast(outShape, a.shape, b.shape);
  if (c.shape.length > 8) {
    args.backend.disposeData(out.dataId);
    return null;
  }
  be.addon.binary(be.ptr(a), be.ptr(b), be.ptr(out), c.shape, c.stridesA, c.stridesB, op, a.dtype === 'float32' ? 0 : 1);
  return out;
}

function unary(args: Args, name: string, op: number): tf.TensorInfo | null {
  const { x } = args.inputs;
  if (!x || x.dtype !== 'float32') return null;
  const be = args.backend;
  const out = be.makeOutput([...x.shape], 'float32');
  const [p0, p1] = unaryParams(name, args.attrs);
  be.addon.unary(be.ptr(x), be.ptr(out), size(x.shape), op, p0, p1);
  return out;
}

function cast(args: Args): tf.TensorInfo | null {
  const { x } = args.inputs;
  const dtype = attr<tf.DataType>(args, 'dtype');
  if (!onDevice(x) || DTYPE_CODE[dtype] === undefined) return null;
  if (x.dtype === dtype) return share(args, x, [...x.shape]);
  const be = args.backend;
  const out = be.makeOutput([...x.shape], dtype);
  be.addon.cast(be.ptr(x), be.ptr(out), size(x.shape), DTYPE_CODE[x.dtype]!, DTYPE_CODE[dtype]!);
  return out;
}

function filled(args: Args, shape: number[], dtype: tf.DataType, value: number): tf.TensorInfo | null {
  if (DTYPE_CODE[dtype] === undefined) return null;
  const be = args.backend;
  const out = be.makeOutput(shape, dtype);
  be.addon.fill(be.ptr(out), size(shape), bitsOf(value, dtype));
  return out;
}

function oneHot(args: Args): tf.TensorInfo | null {
  const { indices } = args.inputs;
  const dtype = attr<tf.DataType | undefined>(args, 'dtype') ?? 'int32';
  if (!indices || indices.dtype !== 'int32' || DTYPE_CODE[dtype] === undefined) return null;
  const depth = Number(args.attrs.depth);
  const be = args.backend;
  const out = be.makeOutput([...indices.shape, depth], dtype);
  be.addon.oneHot(
    be.ptr(indices),
    be.ptr(out),
    size(indices.shape),
    depth,
    bitsOf(Number(args.attrs.onValue ?? 1), dtype),
    bitsOf(Number(args.attrs.offValue ?? 0), dtype),
  );
  return out;
}

function select(args: Args): tf.TensorInfo | null {
  const { condition, t, e } = args.inputs;
  if (!onDevice(condition) || !onDevice(t) || !onDevice(e) || t.dtype !== e.dtype || !tf.util.arraysEqual(t.shape, e.shape)) return null;
  const n = size(t.shape),
    nc = size(condition.shape);
  if (nc === 0 || n % nc !== 0) return null;
  const be = args.backend;
  const out = be.makeOutput([...t.shape], t.dtype);
  be.addon.select(be.ptr(condition), be.ptr(t), be.ptr(e), be.ptr(out), n, n / nc);
  return out;
}

function addN(args: Args): tf.TensorInfo | null {
  const ts = Object.values(args.inputs);
  if (ts.length === 0 || ts.some((t) => !t || t.dtype !== 'float32' || !tf.util.arraysEqual(t.shape, ts[0]!.shape))) return null;
  const be = args.backend;
  const shape = [...ts[0]!.shape];
  const n = size(shape);
  const out = be.makeOutput(shape, 'float32');
  if (ts.length === 1) {
    be.addon.copy(be.ptr(out), be.ptr(ts[0]!), n * 4);
    return out;
  }
  be.addon.binary(be.ptr(ts[0]!), be.ptr(ts[1]!), be.ptr(out), [n], [1], [1], 0, 0);
  for (const t of ts.slice(2)) be.addon.binary(be.ptr(out), be.ptr(t!), be.ptr(out), [n], [1], [1], 0, 0);
  return out;
}

export const elementwiseKernels: CudaKernel[] = [
  ...Object.entries(BINARY_OPS).map(([name, op]): CudaKernel => ({ name, run: (args) => binary(args, name, op) })),
  ...Object.entries(COMPARE_OPS).map(([name, op]): CudaKernel => ({ name, run: (args) => binary(args, name, op) })),
  { name: 'FloorDiv', run: (args) => binary(args, 'FloorDiv', FLOOR_DIV) },
  ...Object.entries(UNARY_OPS).map(([name, op]): CudaKernel => ({ name, run: (args) => unary(args, name, op) })),
  { name: 'Cast', run: cast },
  { name: 'ZerosLike', run: (args) => (args.inputs.x ? filled(args, [...args.inputs.x.shape], args.inputs.x.dtype, 0) : null) },
  { name: 'OnesLike', run: (args) => (args.inputs.x ? filled(args, [...args.inputs.x.shape], args.inputs.x.dtype, 1) : null) },
  {
    name: 'Fill',
    run: (args) => {
      const value = args.attrs.value;
      return typeof value === 'number'
        ? filled(args, [...attr<number[]>(args, 'shape')], attr<tf.DataType>(args, 'dtype') ?? 'float32', value)
        : null;
    },
  },
  { name: 'OneHot', run: oneHot },
  { name: 'Select', run: select },
  { name: 'AddN', run: addN },
  { name: 'Identity', run: (args) => (args.inputs.x ? share(args, args.inputs.x, [...args.inputs.x.shape]) : null) },
  {
    name: 'Reshape',
    run: (args) => {
      const { x } = args.inputs;
      if (!x) return null;
      const shape = tf.util.inferFromImplicitShape([...attr<number[]>(args, 'shape')], size(x.shape));
      return share(args, x, shape);
    },
  },
];
