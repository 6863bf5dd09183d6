// Broadcasting binary arithmetic, unary maps and AddN.
import * as tf from '@tensorflow/tfjs';

import { f32, output, size, type KernelArgs, type NativeKernel } from '../cpu-backend.ts';
import { allocOutput } from '../memory-pool.ts';
import type { NativeAddon } from '../addon.ts';
import { collapseBroadcast } from './broadcast.ts';

/** tfjs kernel name → the addon's binary op code (src/elementwise.cc, enum BinOp). */
export const BINARY_OPS: Readonly<Record<string, number>> = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  Maximum: 4,
  Minimum: 5,
  SquaredDifference: 6,
  Pow: 7,
};

/** tfjs kernel name → the addon's unary op code (src/elementwise.cc, enum UnOp). */
export const UNARY_OPS: Readonly<Record<string, number>> = {
  Neg: 0,
  Exp: 1,
  Log: 2,
  Sigmoid: 3,
  Relu: 4,
  Relu6: 5,
  Sqrt: 6,
  Rsqrt: 7,
  Square: 8,
  Abs: 9,
  Tanh: 10,
  Softplus: 11,
  Reciprocal: 12,
  Atan: 13,
  Log1p: 14,
  Expm1: 15,
  Elu: 16,
  Step: 17,
  LeakyRelu: 18,
  Sign: 19,
  Floor: 20,
  Ceil: 21,
  ClipByValue: 22,
  Sin: 23,
  Cos: 24,
};

function binary(args: KernelArgs, addon: NativeAddon, op: number): tf.TensorInfo | null {
  const { a, b } = args.inputs;
  const av = f32(args.backend, a),
    bv = f32(args.backend, b);
  if (!a || !b || !av || !bv) return null;
  const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const out = allocOutput(size(outShape));
  if (out.length > 0) {
    const c = collapseBroadcast(outShape, a.shape, b.shape);
    addon.binary(av, bv, out, c.shape, c.stridesA, c.stridesB, op);
  }
  return output(args.backend, outShape, out);
}

/** The two numbers a unary op's kernel takes from its attributes (the cuda backend's kernels use it too). */
export function unaryParams(name: string, attrs: Record<string, unknown>): [number, number] {
  switch (name) {
    case 'Step':
      return [Number(attrs.alpha ?? 0), 0];
    case 'LeakyRelu':
      return [Number(attrs.alpha ?? 0.2), 0];
    case 'ClipByValue':
      return [Number(attrs.clipValueMin), Number(attrs.clipValueMax)];
    default:
      return [0, 0];
  }
}

function unary(args: KernelArgs, addon: NativeAddon, name: string, op: number): tf.TensorInfo | null {
  const { x } = args.inputs;
  const xv = f32(args.backend, x);
  if (!x || !xv) return null;
  const out = allocOutput(xv.length);
  const [p0, p1] = unaryParams(name, args.attrs);
  if (out.length > 0) addon.unary(xv, out, op, p0, p1);
  return output(args.backend, [...x.shape], out);
}

function addN(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const ts = Object.values(args.inputs);
  const vs: Float32Array[] = [];
  for (const t of ts) {
    const v = f32(args.backend, t);
    if (!t || !v || v.length !== size(ts[0]?.shape ?? [])) return null;
    vs.push(v);
  }
  if (vs.length === 0 || !ts[0]) return null;
  const out = allocOutput(vs[0].length);
  addon.addN(vs, out);
  return output(args.backend, [...ts[0].shape], out);
}

export const elementwiseKernels: NativeKernel[] = [
  ...Object.entries(BINARY_OPS).map(([name, op]): NativeKernel => ({ name, run: (args, addon) => binary(args, addon, op) })),
  ...Object.entries(UNARY_OPS).map(([name, op]): NativeKernel => ({ name, run: (args, addon) => unary(args, addon, name, op) })),
  { name: 'AddN', run: addN },
];
