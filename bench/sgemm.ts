// The machine's sgemm rate through the addon: the same-run reference both the kernel and the
// training benchmark compare against.
import type { NativeAddon } from '../worker/native/index.ts';

/** Best wall time of `n` calls of `fn`, in ms. */
export function best(fn: () => void, n: number): number {
  let b = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

function rate(addon: NativeAddon, m: number, n: number, k: number): number {
  const a = Float32Array.from({ length: m * k }, () => Math.random());
  const b = Float32Array.from({ length: k * n }, () => Math.random());
  const c = new Float32Array(m * n);
  addon.sgemm(a, b, c, m, n, k);
  const ms = best(() => addon.sgemm(a, b, c, m, n, k), 5);
  return (2 * m * n * k) / (ms * 1e6);
}

/** GFLOP/s: the better of 1024x1024x1024 and 2048x2048x512, each best of 5 after a warm-up. */
export function sgemmGflops(addon: NativeAddon): number {
  return Math.max(rate(addon, 1024, 1024, 1024), rate(addon, 2048, 2048, 512));
}
