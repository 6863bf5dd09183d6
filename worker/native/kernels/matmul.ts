// BatchMatMul and _FusedMatMul on sgemm, with tfjs's modulo broadcasting of batch dims.
import * as tf from '@tensorflow/tfjs';

import { attr, f32, output, size, type KernelArgs, type NativeKernel } from '../cpu-backend.ts';
import { allocOutput } from '../memory-pool.ts';
import type { NativeAddon } from '../addon.ts';
import { activationCode } from './activation.ts';

function matmul(args: KernelArgs, addon: NativeAddon, fused: boolean): tf.TensorInfo | null {
  const { a, b, bias } = args.inputs;
  const av = f32(args.backend, a),
    bv = f32(args.backend, b);
  if (!a || !b || !av || !bv || a.shape.length < 2 || b.shape.length < 2) return null;
  const ta = attr<boolean>(args, 'transposeA') === true,
    tb = attr<boolean>(args, 'transposeB') === true;
  const ra = a.shape.length,
    rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = tb ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return null;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batchA = size(a.shape.slice(0, -2)),
    batchB = size(b.shape.slice(0, -2));
  // Batches pair up one to one or against a single matrix; tfjs's other (modulo) pairings stay in JS.
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  if (size(outer) !== Math.max(batchA, batchB)) return null;
  let act = 0;
  let biasv: Float32Array | null = null;
  if (fused) {
    const code = activationCode(args.attrs.activation);
    if (code === null) return null;
    act = code;
    if (bias) {
      biasv = f32(args.backend, bias);
      if (!biasv || biasv.length !== n) return null;
    }
  }
  const outShape = [...outer, m, n];
  const out = allocOutput(size(outShape));
  if (out.length === 0) return output(args.backend, outShape, out);
  addon.batchMatMul(av, bv, out, [batchA, batchB, m, n, k, ta ? 1 : 0, tb ? 1 : 0], biasv, act, Number(args.attrs.leakyreluAlpha ?? 0.2));
  return output(args.backend, outShape, out);
}

export const matmulKernels: NativeKernel[] = [
  { name: 'BatchMatMul', run: (args, addon) => matmul(args, addon, false) },
  { name: '_FusedMatMul', run: (args, addon) => matmul(args, addon, true) },
];
