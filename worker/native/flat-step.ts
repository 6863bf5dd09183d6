/**
 * The optimizer's two flat updates as tfjs kernels, so that the training step keeps them on the
 * backend in one pass each:
 *   FlotillaNesterov {p, g, v, lr[G], wd[G], mu[1]} → [p', v'] over the parameter groups' ranges
 *   FlotillaEma      {e, m, d[1], od[1]}           → e' = e·d + od·m
 * with the arithmetic of flat-math.ts (float32, fixed order, no FMA). On backends without the
 * kernels they are composed from tfjs ops (mul/add/sub per group: the same roundings, so the
 * same bits, at ~10 passes over the vector instead of one). The native cpu kernels run the
 * addon's flat loops on copies of the inputs (tensors are immutable).
 */
import * as tf from '@tensorflow/tfjs';

import type { NativeAddon } from './addon.ts';
import { f32, output, type KernelArgs } from './cpu-backend.ts';
import { allocOutput } from './memory-pool.ts';

export const NESTEROV_KERNEL = 'FlotillaNesterov';
export const EMA_KERNEL = 'FlotillaEma';

/** A group's slice [begin, end) and its index into lr/wd. */
export interface FlatRange {
  begin: number;
  end: number;
  group: number;
}

/**
 * One Nesterov step over the flat parameters (`g` may be longer than `p`: the values from `gOffset` on are
 * used, g[gOffset + i] with p[i]; one variable's slice of the whole flat gradient without a copy): per range, g ← g + wd·p (only where wd ≠ 0),
 * v ← first ? g : μ·v + g, p ← p − lr·(g + μ·v). `lr`, `wd`: [groups], `mu`: [1], float32.
 */
export function nesterovStep(
  p: tf.Tensor1D,
  g: tf.Tensor1D,
  v: tf.Tensor1D,
  lr: tf.Tensor1D,
  wd: tf.Tensor1D,
  mu: tf.Tensor1D,
  ranges: readonly FlatRange[],
  first: boolean,
  wdZero: readonly boolean[],
  gOffset = 0,
): [tf.Tensor1D, tf.Tensor1D] {
  if (gOffset < 0 || g.size < gOffset + p.size)
    throw new RangeError(`${NESTEROV_KERNEL}: g has ${g.size} values, ${gOffset + p.size} needed`);
  if (tf.getKernel(NESTEROV_KERNEL, tf.getBackend())) {
    const flat = ranges.flatMap((r) => [r.begin, r.end, r.group]);
    return tf.engine().runKernel(NESTEROV_KERNEL, { p, g, v, lr, wd, mu }, { ranges: flat, first, gOffset }) as [tf.Tensor1D, tf.Tensor1D];
  }
  return tf.tidy(() => {
    const newP: tf.Tensor[] = [],
      newV: tf.Tensor[] = [];
    let covered = 0;
    for (const r of ranges) {
      const n = r.end - r.begin;
      if (n === 0) continue;
      if (r.begin !== covered) throw new RangeError('parameter ranges must be contiguous and in order');
      covered = r.end;
      const pr = tf.slice(p, r.begin, n);
      let gr = tf.slice(g, gOffset + r.begin, n);
      if (!wdZero[r.group]) gr = tf.add(gr, tf.mul(pr, tf.slice(wd, r.group, 1)));
      const vr = first ? gr : tf.add(tf.mul(tf.slice(v, r.begin, n), mu), gr);
      const d = tf.add(gr, tf.mul(vr, mu));
      newP.push(tf.sub(pr, tf.mul(d, tf.slice(lr, r.group, 1))));
      newV.push(vr);
    }
    if (covered !== p.size) throw new RangeError(`parameter ranges cover ${covered} of ${p.size} values`);
    const cat = (xs: tf.Tensor[]) => (xs.length === 1 ? tf.clone(xs[0]) : tf.concat(xs)) as tf.Tensor1D;
    return [cat(newP), cat(newV)] as [tf.Tensor1D, tf.Tensor1D];
  });
}

/** e·d + od·m, float32 (`d`, `od`: [1]). */
export function emaStep(e: tf.Tensor1D, m: tf.Tensor1D, d: tf.Tensor, od: tf.Tensor): tf.Tensor1D {
  if (tf.getKernel(EMA_KERNEL, tf.getBackend())) return tf.engine().runKernel(EMA_KERNEL, { e, m, d, od }, {}) as tf.Tensor1D;
  return tf.tidy(() => tf.add(tf.mul(e, d), tf.mul(od, m)) as tf.Tensor1D);
}

function scalarAt(args: KernelArgs, name: string, i = 0): number {
  const v = f32(args.backend, args.inputs[name]);
  if (!v || i >= v.length) throw new Error(`${name}: float32 value ${i} expected`);
  return v[i];
}

/** Registers the two native kernels on `cpu`; returns the undo. */
export function registerFlatStep(addon: NativeAddon): () => void {
  tf.registerKernel({
    kernelName: NESTEROV_KERNEL,
    backendName: 'cpu',
    kernelFunc: (params) => {
      const args = params as unknown as KernelArgs;
      const { backend } = args;
      const p = f32(backend, args.inputs.p),
        gAll = f32(backend, args.inputs.g),
        v = f32(backend, args.inputs.v);
      const gOffset = Number(args.attrs.gOffset ?? 0);
      // a view, not a copy: the kernel reads g[gOffset + i] with p[i]
      const g = gAll && gOffset > 0 ? gAll.subarray(gOffset) : gAll;
      if (!p || !g || !v || g.length < p.length || v.length !== p.length)
        throw new Error(`${NESTEROV_KERNEL}: float32 p, v of one length and g at least as long expected`);
      const ranges = args.attrs.ranges as number[];
      const first = Boolean(args.attrs.first);
      const po = allocOutput(p.length),
        vo = allocOutput(p.length);
      po.set(p);
      vo.set(v);
      const mu = scalarAt(args, 'mu');
      for (let k = 0; k < ranges.length; k += 3) {
        const [b, e, grp] = [ranges[k], ranges[k + 1], ranges[k + 2]];
        addon.flatNesterov(po, g, vo, b, e, scalarAt(args, 'lr', grp), scalarAt(args, 'wd', grp), mu, first);
      }
      return [output(backend, [p.length], po), output(backend, [p.length], vo)];
    },
  });
  tf.registerKernel({
    kernelName: EMA_KERNEL,
    backendName: 'cpu',
    kernelFunc: (params) => {
      const args = params as unknown as KernelArgs;
      const e = f32(args.backend, args.inputs.e),
        m = f32(args.backend, args.inputs.m);
      if (!e || !m || e.length !== m.length) throw new Error(`${EMA_KERNEL}: float32 e, m of one length expected`);
      const out = allocOutput(e.length);
      out.set(e);
      addon.flatEma(out, m, scalarAt(args, 'd'), scalarAt(args, 'od'));
      return output(args.backend, [e.length], out);
    },
  });
  return () => {
    tf.unregisterKernel(NESTEROV_KERNEL, 'cpu');
    tf.unregisterKernel(EMA_KERNEL, 'cpu');
  };
}
