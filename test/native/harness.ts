// Test harness for native kernels: runs a computation with the native kernels and again with
// the JS ones, and compares the results.
import * as tf from '@tensorflow/tfjs';
import type { Test } from 'tap';

import { loadAddon, registerNativeKernels, type Registration } from '../../worker/native/index.ts';

/** Largest relative error allowed against the JS kernel. */
export const TOLERANCE = 1e-5;

/** The addon's registration, or the reason the native tests must skip. */
export async function setup(): Promise<{ reg: Registration; skip?: undefined } | { skip: string }> {
  await tf.setBackend('cpu');
  const load = loadAddon();
  if (!load.ok) return { skip: `native addon not built: ${load.reason}` };
  return { reg: registerNativeKernels(load.addon) };
}

/** Normwise relative error max|a-b| / max|b| (absolute when b is all zeros). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < b.length; i++) {
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return Infinity;
    const d = Math.abs(a[i] - b[i]);
    if (!Number.isNaN(d)) num = Math.max(num, d);
    if (Number.isFinite(b[i])) den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

/** Uniform random values in [lo, hi), fresh each run. */
export function rand(shape: number[], lo = -1, hi = 1): tf.Tensor {
  return tf.randomUniform(shape, lo, hi, 'float32');
}

type Result = tf.Tensor | tf.Tensor[];
type Out = { shape: number[]; v: Float32Array | Int32Array | Uint8Array };

function run(fn: () => Result): Out[] {
  return tf.tidy(() => {
    const r = fn();
    return (Array.isArray(r) ? r : [r]).map((x) => ({ shape: x.shape, v: x.dataSync() as Out['v'] }));
  });
}

/**
 * Runs `fn` natively and with the JS kernels; checks shapes, the relative error of every output,
 * and that `kernel` really ran natively.
 */
export function compare(t: Test, reg: Registration, kernel: string, label: string, fn: () => Result, tol = TOLERANCE): void {
  const count = reg.counts.get(kernel);
  if (!count) {
    t.fail(`${kernel} is not registered natively`);
    return;
  }
  const before = count.native;
  reg.enabled = true;
  const native = run(fn);
  const ran = count.native - before;
  reg.enabled = false;
  let js: Out[];
  try {
    js = run(fn);
  } finally {
    reg.enabled = true;
  }
  t.ok(ran > 0, `${label}: ${kernel} ran natively (${ran} calls)`);
  t.equal(native.length, js.length, `${label}: output count`);
  native.forEach((n, i) => {
    t.same(n.shape, js[i].shape, `${label}: shape of output ${i}`);
    const e = relErr(n.v, js[i].v);
    t.ok(e <= tol, `${label}: output ${i} relative error ${e.toExponential(2)} <= ${tol}`);
  });
}
