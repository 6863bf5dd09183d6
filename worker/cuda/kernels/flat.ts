// The optimizer's flat updates FlotillaNesterov / FlotillaEma (worker/native/flat-step.ts
// defines them) and Range, on the addon (src/flat.cu).
import * as tf from '@tensorflow/tfjs';

import { EMA_KERNEL, NESTEROV_KERNEL } from '../../native/flat-step.ts';
import { size, type Args, type CudaKernel } from './common.ts';

const f32 = (t: tf.TensorInfo | undefined): t is tf.TensorInfo => t !== undefined && t.dtype === 'float32';

function nesterov(args: Args): tf.TensorInfo[] {
  const { p, g, v, lr, wd, mu } = args.inputs;
  if (!f32(p) || !f32(g) || !f32(v) || !f32(lr) || !f32(wd) || !f32(mu))
    throw new Error(`${NESTEROV_KERNEL}: float32 p, g, v, lr, wd, mu expected`);
  const n = size(p.shape);
  const gOffset = Number(args.attrs.gOffset ?? 0);
  if (gOffset < 0 || size(g.shape) < n + gOffset || size(v.shape) !== n || size(mu.shape) < 1)
    throw new Error(`${NESTEROV_KERNEL}: float32 p, v of one length and g at least as long expected`);
  const ranges = args.attrs.ranges as number[];
  const first = Boolean(args.attrs.first);
  const be = args.backend;
  const po = be.makeOutput([n], 'float32'),
    vo = be.makeOutput([n], 'float32');
  const pp = be.ptr(p),
    pg = be.ptr(g) + 4 * gOffset,
    pv = be.ptr(v),
    plr = be.ptr(lr),
    pwd = be.ptr(wd),
    pmu = be.ptr(mu);
  const ppo = be.ptr(po),
    pvo = be.ptr(vo);
  // values outside every range keep p and v (as the CPU kernel, which starts from copies)
  let covered = 0;
  const gaps: Array<[number, number]> = [];
  const sorted = [];
  for (let k = 0; k < ranges.length; k += 3) sorted.push([ranges[k], ranges[k + 1], ranges[k + 2]]);
  sorted.sort((a, b) => a[0] - b[0]);
  for (const [b, e, grp] of sorted) {
    if (b < 0 || e > n || b > e) throw new RangeError(`${NESTEROV_KERNEL}: bad range [${b}, ${e}) of ${n}`);
    if (grp < 0 || grp >= size(lr.shape) || grp >= size(wd.shape)) throw new RangeError(`${NESTEROV_KERNEL}: no lr/wd for group ${grp}`);
    if (b > covered) gaps.push([covered, b]);
    covered = Math.max(covered, e);
    be.addon.nesterov(pp, pg, pv, ppo, pvo, b, e, plr + 4 * grp, pwd + 4 * grp, pmu, first);
  }
  if (covered < n) gaps.push([covered, n]);
  for (const [b, e] of gaps) {
    be.addon.copy(ppo + 4 * b, pp + 4 * b, 4 * (e - b));
    be.addon.copy(pvo + 4 * b, pv + 4 * b, 4 * (e - b));
  }
  return [po, vo];
}

function ema(args: Args): tf.TensorInfo {
  const { e, m, d, od } = args.inputs;
  if (!f32(e) || !f32(m) || !f32(d) || !f32(od) || size(e.shape) !== size(m.shape) || size(d.shape) < 1 || size(od.shape) < 1) {
    throw new Error(`${EMA_KERNEL}: float32 e, m of one length and d, od expected`);
  }
  const be = args.backend;
  const n = size(e.shape);
  const out = be.makeOutput([n], 'float32');
  be.addon.ema(be.ptr(e), be.ptr(m), be.ptr(d), be.ptr(od), be.ptr(out), n);
  return out;
}

/** tfjs's rangeImpl accumulates in float32 steps; start + i·step is the same where both are integers (|v| < 2^24). */
function range(args: Args): tf.TensorInfo | null {
  let step = Number(args.attrs.step);
  const start = Number(args.attrs.start),
    stop = Number(args.attrs.stop);
  const dtype = (args.attrs.dtype as tf.DataType | undefined) ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'int32') return null;
  const be = args.backend;
  if (start === stop || (start < stop && step < 0) || (stop < start && step > 1)) return be.makeOutput([0], dtype);
  const n = Math.abs(Math.ceil((stop - start) / step));
  if (stop < start && step === 1) step = -1;
  const last = start + (n - 1) * step;
  if (!Number.isInteger(start) || !Number.isInteger(step) || Math.max(Math.abs(start), Math.abs(last)) >= 2 ** 24) return null;
  const out = be.makeOutput([n], dtype);
  be.addon.range(be.ptr(out), n, start, step, dtype === 'int32');
  return out;
}

export const flatKernels: CudaKernel[] = [
  { name: NESTEROV_KERNEL, run: nesterov },
  { name: EMA_KERNEL, run: ema },
  { name: 'Range', run: range },
];
