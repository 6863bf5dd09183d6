// Test harness of the CUDA backend: by default the host variant of its addon (the kernel sources
// compiled by g++) registered as backend `cuda-host`; on a GPU machine
// FLOTILLA_CUDA_TEST_BACKEND=cuda runs the same tests on the real addon. Both are compared with
// tfjs `cpu` running the project's native CPU kernels (or its JS kernels where those are not built).
import * as tf from '@tensorflow/tfjs';
import type { Test } from 'tap';

import { loadCudaAddon, registerCudaBackend, type CudaBackend, type CudaBackendName } from '../../worker/cuda/index.ts';
import { loadAddon, registerNativeKernels } from '../../worker/native/index.ts';

export const REFERENCE = 'cpu';
/** The backend under test: `cuda-host` (default) or `cuda` (FLOTILLA_CUDA_TEST_BACKEND=cuda, on a GPU). */
export const CUDA: CudaBackendName = process.env.FLOTILLA_CUDA_TEST_BACKEND === 'cuda' ? 'cuda' : 'cuda-host';

let native = false;

/** The backend under test, or the reason the tests must skip (its addon is not built, or no GPU for `cuda`). */
export function setup(): { backend: CudaBackend; reference: string } | { skip: string } {
  const load = loadCudaAddon(CUDA === 'cuda' ? 'cuda' : 'host');
  if (!load.ok) return { skip: `${CUDA === 'cuda' ? 'CUDA addon' : 'CUDA host variant'} unavailable (npm run build:cuda): ${load.reason}` };
  const n = loadAddon();
  if (n.ok && !native) {
    registerNativeKernels(n.addon);
    native = true;
  }
  const backend = registerCudaBackend(CUDA, load.addon, load.device);
  return { backend, reference: native ? 'cpu with the native kernels' : 'cpu with the JS kernels' };
}

/** setup(), with a skip reported on t (a comment and a pass): the backend under test, or undefined after a skip. */
export function setupOrSkip(t: Test): { backend: CudaBackend; reference: string } | undefined {
  const s = setup();
  if (!('skip' in s)) return s;
  t.comment(`skipping: ${s.skip}`);
  t.pass(`skipped: ${s.skip}`);
  return undefined;
}

/** A seeded LCG, values uniform in [lo, hi). */
export function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return out;
}

export type Out = { shape: number[]; dtype: string; v: ArrayLike<number> };

/** Runs fn on a backend and reads every output back. */
export async function runOn(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Out[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const r = fn();
    return (Array.isArray(r) ? r : [r]).map((x) => ({ shape: x.shape, dtype: x.dtype, v: Array.from(x.dataSync() as ArrayLike<number>) }));
  });
}

/** Normwise relative error max|a-b| / max|b| (absolute when b is all zeros); NaN placement must match. */
export { relErr } from '../native/harness.ts';
