/**
 * Registers the tfjs backends `cuda` (the real addon) and `cuda-host` (its host variant) with
 * every kernel tfjs's `cpu` backend has: the ported ones (kernels/) run on the addon, the rest
 * run by transfer (inputs downloaded, the CPU kernel — native where registered — run, outputs
 * kept on the host until a kernel needs them on the device) and are counted per kernel.
 * FLOTILLA_CUDA_REPORT=1 prints those counts, and the transfers, when the process exits.
 */
import * as tf from '@tensorflow/tfjs';

import { ensureBnActGradient } from '../native/bn-act.ts';
import type { CudaAddon, CudaStats } from './addon.ts';
import { CudaBackend } from './backend.ts';
import type { Args, CudaKernel } from './kernels/common.ts';
import { CUDA_KERNELS } from './kernels/index.ts';

export type CudaBackendName = 'cuda' | 'cuda-host';

const backends = new Map<CudaBackendName, CudaBackend>();

type CpuLike = {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  disposeIntermediateTensorInfo(t: tf.TensorInfo): void;
};

/** Runs a kernel call on tfjs's `cpu` backend by transfer; the outputs come back as host values. */
function viaCpu(name: string, args: Args): tf.TensorInfo | tf.TensorInfo[] {
  const be = args.backend;
  be.fallbacks.set(name, (be.fallbacks.get(name) ?? 0) + 1);
  const kernel = tf.getKernel(name, 'cpu');
  if (!kernel) throw new Error(`${be.name}: no kernel ${name} on cuda nor on cpu`);
  const cpu = tf.engine().findBackend('cpu') as unknown as CpuLike;
  const made: tf.TensorInfo[] = [];
  const inputs: Record<string, tf.TensorInfo> = {};
  for (const [k, t] of Object.entries(args.inputs)) {
    if (!t) continue;
    const ti = cpu.makeTensorInfo([...t.shape], t.dtype, be.readSync(t.dataId));
    made.push(ti);
    inputs[k] = ti;
  }
  try {
    const res = kernel.kernelFunc({ inputs, attrs: args.attrs as tf.NamedAttrMap, backend: cpu as unknown as tf.KernelBackend });
    const outs = Array.isArray(res) ? res : [res];
    const mine = outs.map((o) => be.makeTensorInfo([...o.shape], o.dtype, cpu.readSync(o.dataId)));
    for (const o of outs) cpu.disposeIntermediateTensorInfo(o);
    return Array.isArray(res) ? mine : mine[0];
  } finally {
    for (const t of made) cpu.disposeIntermediateTensorInfo(t);
  }
}

function wrap(name: string, kernel: CudaKernel | undefined): tf.KernelFunc {
  return (params) => {
    const args = params as unknown as Args;
    const out = kernel ? kernel.run(args) : null;
    if (out === null) return viaCpu(name, args);
    args.backend.native.set(name, (args.backend.native.get(name) ?? 0) + 1);
    return out;
  };
}

/**
 * Registers backend `name` over a started addon (idempotent) and returns it. Kernels: every
 * kernel tfjs's cpu backend registers, plus the fused BatchNorm + SiLU pair.
 */
export function registerCudaBackend(name: CudaBackendName, addon: CudaAddon, device: string): CudaBackend {
  const have = backends.get(name);
  if (have) return have;
  // The transfers' CPU side must exist; its first-use advice to install tfjs-node is noise here.
  (tf.engine().findBackend('cpu') as unknown as { firstUse?: boolean }).firstUse = false;
  const backend = new CudaBackend(addon, name, device);
  // Priority below cpu's: the engine picks it explicitly (worker/engine/backend.ts), never by default.
  tf.registerBackend(name, () => backend, 0);
  const ported = new Map(CUDA_KERNELS.map((k) => [k.name, k]));
  const names = new Set([...tf.getKernelsForBackend('cpu').map((k) => k.kernelName), ...ported.keys()]);
  for (const k of names) {
    if (tf.getKernel(k, name)) continue;
    tf.registerKernel({ kernelName: k, backendName: name, kernelFunc: wrap(k, ported.get(k)) });
  }
  ensureBnActGradient();
  backends.set(name, backend);
  if (process.env.FLOTILLA_CUDA_REPORT === '1') {
    process.on('exit', () => process.stderr.write(`${formatCudaReport(backend).join('\n')}\n`));
  }
  return backend;
}

/** The backend registered under `name`, if any. */
export function cudaBackend(name: CudaBackendName): CudaBackend | undefined {
  return backends.get(name);
}

/**
 * Host round trips of the current tfjs backend when it is `cuda` or `cuda-host`, since the
 * process started: `reads` are downloads (each waits for the device), `writes` uploads (values
 * written from JavaScript, uploaded when a kernel first needs them). Null on other backends.
 * Take two readings and subtract to count a training step's.
 */
export function cudaTransfers(): { reads: number; writes: number; readBytes: number; writeBytes: number } | null {
  const name = tf.getBackend();
  const b = name === 'cuda' || name === 'cuda-host' ? backends.get(name) : undefined;
  if (!b) return null;
  const st = b.addon.stats();
  return { reads: st.downloads, writes: st.uploads, readBytes: st.downloadBytes, writeBytes: st.uploadBytes };
}

/** What a backend did since it was registered: kernels native and by transfer, transfers, memory. */
export interface CudaReport {
  native: Record<string, number>;
  fallbacks: Record<string, number>;
  stats: CudaStats;
  dataIds: number;
}

export function cudaReport(backend: CudaBackend): CudaReport {
  return {
    native: Object.fromEntries(backend.native),
    fallbacks: Object.fromEntries(backend.fallbacks),
    stats: backend.addon.stats(),
    dataIds: backend.numDataIds(),
  };
}

/** The report as lines: every fallback kernel with its count, then transfers and memory. */
export function formatCudaReport(backend: CudaBackend): string[] {
  const r = cudaReport(backend);
  const fb = Object.entries(r.fallbacks).sort((a, b) => b[1] - a[1]);
  const calls = Object.values(r.native).reduce((s, n) => s + n, 0);
  const lines = [
    `flotilla ${backend.name} (${backend.device}): ${calls} kernel calls native in ${Object.keys(r.native).length} kernels, ` +
      `${fb.reduce((s, [, n]) => s + n, 0)} by transfer in ${fb.length} kernels`,
  ];
  for (const [k, n] of fb) lines.push(`  fallback ${k}: ${n} calls`);
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  lines.push(
    `  transfers: ${r.stats.uploads} uploads (${mb(r.stats.uploadBytes)} MiB), ${r.stats.downloads} downloads (${mb(r.stats.downloadBytes)} MiB); ` +
      `memory: ${r.stats.live} buffers live (${mb(r.stats.bytes)} MiB), peak ${mb(r.stats.peak)} MiB; TF32 ${r.stats.tf32 ? 'on' : 'off'}`,
  );
  return lines;
}
