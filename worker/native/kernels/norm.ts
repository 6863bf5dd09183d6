// FusedBatchNorm (inference-form batch norm) with per-channel or scalar parameters.
import * as tf from '@tensorflow/tfjs';

import { f32, output, type KernelArgs, type NativeKernel } from '../cpu-backend.ts';
import { allocOutput } from '../memory-pool.ts';
import type { NativeAddon } from '../addon.ts';

function batchNorm(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | null {
  const { x, mean, variance, offset, scale } = args.inputs;
  const xv = f32(args.backend, x),
    mv = f32(args.backend, mean),
    vv = f32(args.backend, variance);
  if (!x || !xv || !mv || !vv || x.shape.length === 0) return null;
  const ov = offset ? f32(args.backend, offset) : null;
  const sv = scale ? f32(args.backend, scale) : null;
  if ((offset && !ov) || (scale && !sv)) return null;
  const c = x.shape[x.shape.length - 1];
  // The JS kernel indexes parameters modulo their length; that equals per-channel only here.
  for (const p of [mv, vv, ov, sv]) if (p && p.length !== c && p.length !== 1) return null;
  const out = allocOutput(xv.length);
  if (out.length > 0) addon.batchNorm(xv, out, c, mv, vv, ov, sv, Number(args.attrs.varianceEpsilon ?? 0.001));
  return output(args.backend, [...x.shape], out);
}

export const normKernels: NativeKernel[] = [{ name: 'FusedBatchNorm', run: batchNorm }];
