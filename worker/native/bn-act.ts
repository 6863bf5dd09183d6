/**
 * Training-mode BatchNorm fused with its activation (identity or SiLU), as one tfjs kernel with
 * its own gradient. On backends without the native kernel it is composed from tfjs ops exactly
 * as a model would write it. The batch mean and variance it returns are for the running
 * statistics only: no gradient flows through them.
 */
import * as tf from '@tensorflow/tfjs';

import type { NativeAddon } from './addon.ts';
import { f32, output, type KernelArgs } from './cpu-backend.ts';
import { allocOutput } from './memory-pool.ts';

export const BN_ACT_KERNEL = 'FlotillaBnAct';
export const BN_ACT_GRAD_KERNEL = 'FlotillaBnActGrad';

/** Activation after the normalisation. */
export type BnActivation = 'linear' | 'silu';

/** Normalised output, and the batch mean and biased variance per channel. */
export interface BnActResult {
  y: tf.Tensor;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

const ACT_CODE: Record<BnActivation, number> = { linear: 0, silu: 1 };

/** The same computation from tfjs ops (moments → batchNorm → x·σ(x)). */
export function batchNormActComposed(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, act: BnActivation): BnActResult {
  return tf.tidy(() => {
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    const { mean, variance } = tf.moments(x, axes);
    const z = tf.batchNorm(x, mean, variance, beta, gamma, eps);
    const y = act === 'silu' ? tf.mul(z, tf.sigmoid(z)) : z;
    return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  });
}

/** Training-mode BatchNorm over all axes but the last, then `act`; native where registered. */
export function batchNormAct(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, act: BnActivation): BnActResult {
  if (!tf.getKernel(BN_ACT_KERNEL, tf.getBackend()) || x.dtype !== 'float32') {
    return batchNormActComposed(x, gamma, beta, eps, act);
  }
  const attrs = { eps, act: ACT_CODE[act] };
  // Recorded as one node with one output: were the statistics outputs of the recorded kernel,
  // backprop would make a zero gradient for each from host memory (two uploads per layer).
  let stats: [tf.Tensor, tf.Tensor] | undefined;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, gi, bi] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [y, mean, variance] = tf.engine().runKernel(BN_ACT_KERNEL, { x: xi, gamma: gi, beta: bi }, attrs) as tf.Tensor[];
    stats = [tf.keep(mean), tf.keep(variance)];
    save([xi, gi, bi, mean, variance]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sg, sb, sm, sv] = saved;
        return tf
          .engine()
          .runKernel(
            BN_ACT_GRAD_KERNEL,
            { dy: Array.isArray(dy) ? dy[0] : dy, x: sx, gamma: sg, beta: sb, mean: sm, variance: sv },
            attrs as unknown as tf.NamedAttrMap,
          ) as tf.Tensor[];
      },
    };
  });
  const y = f(x, gamma, beta);
  // kept out of the custom op's scope; handed to the caller's scope again
  const [mean, variance] = stats!.map((t) => {
    const c = tf.clone(t);
    t.dispose();
    return c;
  });
  return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

/** Whether batchNormAct runs natively on the current backend. */
export function batchNormActIsNative(): boolean {
  return tf.getKernel(BN_ACT_KERNEL, tf.getBackend()) !== undefined;
}

function channelsOf(args: KernelArgs): number | null {
  const { x, gamma, beta } = args.inputs;
  if (!x || !gamma || !beta || x.shape.length === 0) return null;
  const c = x.shape[x.shape.length - 1];
  return gamma.shape[0] === c && beta.shape[0] === c ? c : null;
}

/** Registers the fused kernel, its gradient kernel and its gradient on `cpu`; returns the undo. */
export function registerBnAct(addon: NativeAddon): () => void {
  tf.registerKernel({
    kernelName: BN_ACT_KERNEL,
    backendName: 'cpu',
    kernelFunc: (params) => {
      const args = params as unknown as KernelArgs;
      const c = channelsOf(args);
      const { backend } = args;
      const x = f32(backend, args.inputs.x),
        g = f32(backend, args.inputs.gamma),
        b = f32(backend, args.inputs.beta);
      if (c === null || !x || !g || !b || !args.inputs.x)
        throw new Error(`${BN_ACT_KERNEL}: float32 x [..., C], gamma [C], beta [C] expected`);
      const y = allocOutput(x.length),
        mean = new Float32Array(c),
        variance = new Float32Array(c);
      addon.bnActForward(x, g, b, y, mean, variance, c, Number(args.attrs.eps), Number(args.attrs.act));
      return [output(backend, [...args.inputs.x.shape], y), output(backend, [c], mean), output(backend, [c], variance)];
    },
  });
  tf.registerKernel({
    kernelName: BN_ACT_GRAD_KERNEL,
    backendName: 'cpu',
    kernelFunc: (params) => {
      const args = params as unknown as KernelArgs;
      const c = channelsOf(args);
      const { backend } = args;
      const [dy, x, g, b, m, v] = ['dy', 'x', 'gamma', 'beta', 'mean', 'variance'].map((k) => f32(backend, args.inputs[k]));
      if (c === null || !dy || !x || !g || !b || !m || !v || !args.inputs.x) throw new Error(`${BN_ACT_GRAD_KERNEL}: bad inputs`);
      const dx = allocOutput(x.length),
        dg = new Float32Array(c),
        db = new Float32Array(c);
      addon.bnActBackward(dy, x, g, b, m, v, dx, dg, db, c, Number(args.attrs.eps), Number(args.attrs.act));
      return [output(backend, [...args.inputs.x.shape], dx), output(backend, [c], dg), output(backend, [c], db)];
    },
  });
  ensureBnActGradient();
  return () => {
    tf.unregisterKernel(BN_ACT_KERNEL, 'cpu');
    tf.unregisterKernel(BN_ACT_GRAD_KERNEL, 'cpu');
  };
}

/**
 * Registers the gradient of the fused kernel (once; it stays registered): it runs the gradient
 * kernel of whichever backend is current (`cpu` with the native kernels, or `cuda`).
 */
export function ensureBnActGradient(): void {
  if (tf.getGradient(BN_ACT_KERNEL)) return;
  tf.registerGradient({
    kernelName: BN_ACT_KERNEL,
    inputsToSave: ['x', 'gamma', 'beta'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const dy = Array.isArray(dys) ? dys[0] : dys;
      const [x, gamma, beta, mean, variance] = saved;
      const [dx, dg, db] = tf
        .engine()
        .runKernel(BN_ACT_GRAD_KERNEL, { dy, x, gamma, beta, mean, variance }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      return { x: () => dx, gamma: () => dg, beta: () => db };
    },
  });
}
