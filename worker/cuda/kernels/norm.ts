// FusedBatchNorm (inference form) and the engine's fused training BatchNorm + SiLU kernels
// (FlotillaBnAct / FlotillaBnActGrad, worker/native/bn-act.ts defines their contract).
import * as tf from '@tensorflow/tfjs';

import { BN_ACT_GRAD_KERNEL, BN_ACT_KERNEL } from '../../native/bn-act.ts';
import { size, type Args, type CudaKernel } from './common.ts';

const f32 = (t: tf.TensorInfo | undefined): t is tf.TensorInfo => t !== undefined && t.dtype === 'float32';

function batchNorm(args: Args): tf.TensorInfo | null {
  const { x, mean, variance, offset, scale } = args.inputs;
  if (!f32(x) || !f32(mean) || !f32(variance) || x.shape.length === 0) return null;
  if ((offset && !f32(offset)) || (scale && !f32(scale))) return null;
  const c = x.shape[x.shape.length - 1];
  for (const p of [mean, variance, offset, scale]) if (p && size(p.shape) !== c && size(p.shape) !== 1) return null;
  const be = args.backend;
  const out = be.makeOutput([...x.shape], 'float32');
  const n = size(x.shape);
  if (n > 0) {
    be.addon.batchNorm(
      be.ptr(x),
      be.ptr(out),
      n,
      c,
      be.ptr(mean),
      size(mean.shape),
      be.ptr(variance),
      size(variance.shape),
      offset ? be.ptr(offset) : 0,
      offset ? size(offset.shape) : 0,
      scale ? be.ptr(scale) : 0,
      scale ? size(scale.shape) : 0,
      Number(args.attrs.varianceEpsilon ?? 0.001),
    );
  }
  return out;
}

function channels(args: Args): number {
  const { x, gamma, beta } = args.inputs;
  if (!f32(x) || !f32(gamma) || !f32(beta) || x.shape.length === 0)
    throw new Error(`${BN_ACT_KERNEL}: float32 x [..., C], gamma [C], beta [C] expected`);
  const c = x.shape[x.shape.length - 1];
  if (size(gamma.shape) !== c || size(beta.shape) !== c) throw new Error(`${BN_ACT_KERNEL}: gamma and beta must have C = ${c} elements`);
  return c;
}

function bnAct(args: Args): tf.TensorInfo[] {
  const c = channels(args);
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const be = args.backend;
  const y = be.makeOutput([...x.shape], 'float32'),
    mean = be.makeOutput([c], 'float32'),
    variance = be.makeOutput([c], 'float32');
  be.addon.bnActForward(
    be.ptr(x),
    be.ptr(gamma),
    be.ptr(beta),
    be.ptr(y),
    be.ptr(mean),
    be.ptr(variance),
    size(x.shape) / c,
    c,
    Number(args.attrs.eps),
    Number(args.attrs.act),
  );
  return [y, mean, variance];
}

function bnActGrad(args: Args): tf.TensorInfo[] {
  const c = channels(args);
  const { dy, x, gamma, beta, mean, variance } = args.inputs as Record<string, tf.TensorInfo>;
  if (!f32(dy) || !f32(mean) || !f32(variance)) throw new Error(`${BN_ACT_GRAD_KERNEL}: bad inputs`);
  const be = args.backend;
  const dx = be.makeOutput([...x.shape], 'float32'),
    dg = be.makeOutput([c], 'float32'),
    db = be.makeOutput([c], 'float32');
  be.addon.bnActBackward(
    be.ptr(dy),
    be.ptr(x),
    be.ptr(gamma),
    be.ptr(beta),
    be.ptr(mean),
    be.ptr(variance),
    be.ptr(dx),
    be.ptr(dg),
    be.ptr(db),
    size(x.shape) / c,
    c,
    Number(args.attrs.eps),
    Number(args.attrs.act),
  );
  return [dx, dg, db];
}

export const normKernels: CudaKernel[] = [
  { name: 'FusedBatchNorm', run: batchNorm },
  { name: BN_ACT_KERNEL, run: bnAct },
  { name: BN_ACT_GRAD_KERNEL, run: bnActGrad },
];
