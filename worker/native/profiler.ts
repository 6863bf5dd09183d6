// Which kernels take the time: tf.profile over one call, totalled per kernel name.
import * as tf from '@tensorflow/tfjs';

/** Time and calls of one kernel name within a profiled call. */
export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

/** A profiled call: per-kernel totals (largest first) and the wall time of the whole call. */
export interface KernelProfile {
  kernels: KernelTime[];
  kernelMs: number;
  wallMs: number;
}

/** Runs `fn` under tf.profile and totals kernel time per kernel name. */
export async function profileKernels(fn: () => tf.TensorContainer | Promise<tf.TensorContainer>): Promise<KernelProfile> {
  const t0 = performance.now();
  const info = await tf.profile(fn as () => tf.TensorContainer);
  const wallMs = performance.now() - t0;
  const byName = new Map<string, KernelTime>();
  let kernelMs = 0;
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    kernelMs += ms;
    byName.set(k.name, e);
  }
  const kernels = [...byName.values()].sort((a, b) => b.ms - a.ms);
  return { kernels, kernelMs, wallMs };
}

/** The profile as aligned text lines: name, ms, share, calls; the `top` largest only. */
export function formatProfile(p: KernelProfile, top = 25): string[] {
  const lines = [`kernel time ${p.kernelMs.toFixed(0)} ms of ${p.wallMs.toFixed(0)} ms wall`];
  for (const k of p.kernels.slice(0, top)) {
    const share = p.kernelMs > 0 ? (100 * k.ms) / p.kernelMs : 0;
    lines.push(
      `  ${k.name.padEnd(28)} ${k.ms.toFixed(1).padStart(9)} ms ${share.toFixed(1).padStart(5)}%  ${String(k.calls).padStart(5)} calls`,
    );
  }
  return lines;
}

/** Time and calls of one kernel on one set of input shapes. */
export interface ShapeTime {
  kernel: string;
  shapes: number[][];
  ms: number;
  calls: number;
}

/**
 * Times every kernel call of `fn` by kernel and input shapes, by wrapping each kernel of
 * `backend` for the duration (no tf.profile: nothing is kept alive or read back, so the
 * buffer pool and the GC behave as in a plain step). Largest first.
 */
export function profileByShape(fn: () => void, backend = 'cpu'): ShapeTime[] {
  const byKey = new Map<string, ShapeTime>();
  const originals = tf.getKernelsForBackend(backend);
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (params) => {
        const t0 = performance.now();
        const out = k.kernelFunc(params);
        const ms = performance.now() - t0;
        // optional inputs (a fused conv's bias, say) may be present but undefined
        const shapes = Object.values(params.inputs)
          .filter((t) => t != null)
          .map((t) => [...(t as tf.TensorInfo).shape]);
        const key = `${k.kernelName} ${JSON.stringify(shapes)}`;
        const e = byKey.get(key) ?? { kernel: k.kernelName, shapes, ms: 0, calls: 0 };
        e.ms += ms;
        e.calls += 1;
        byKey.set(key, e);
        return out;
      },
    });
  }
  try {
    fn();
  } finally {
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, backend);
      tf.registerKernel(k);
    }
  }
  return [...byKey.values()].sort((a, b) => b.ms - a.ms);
}
