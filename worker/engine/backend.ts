/**
 * Picks the compute backend of the engine at start-up, best first: the project's CUDA backend
 * `cuda` (when its addon is built and a GPU is present, docs/gpu.md) →
 * `@tensorflow/tfjs-node-gpu` (CUDA) → `@tensorflow/tfjs-node` (libtensorflow) → the
 * project's native CPU kernels over tfjs `cpu` → plain tfjs `cpu`. The two tfjs-node packages
 * are optional dependencies; a failed import only moves on to the next candidate. `cuda-host`
 * (the CUDA backend over host memory, for tests) is only ever forced, never picked.
 */
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as tf from '@tensorflow/tfjs';

import { loadCudaAddon, registerCudaBackend } from '../cuda/index.ts';
import { loadAddon, registerNativeKernels, type Registration } from '../native/index.ts';
import { memoryPool } from '../native/memory-pool.ts';

export const BACKENDS = ['cuda', 'tensorflow-gpu', 'tensorflow', 'native-cpu', 'cpu', 'cuda-host'] as const;
/** Backends that only FLOTILLA_BACKEND or `force` select. */
const FORCED_ONLY: readonly BackendName[] = ['cuda-host'];
export type BackendName = (typeof BACKENDS)[number];

/** Options of initBackend. */
export interface BackendOptions {
  /** First candidate to try; the ones after it remain fallbacks. Default: 'cuda'. */
  prefer?: BackendName;
  /** Only this backend, or fail. Default: the FLOTILLA_BACKEND environment variable, if set. */
  force?: BackendName;
  /** Receives the one-line notice when a better backend was unavailable. Default: stderr. */
  onNotice?: (line: string) => void;
}

/** The backend that runs, and the device it runs on, in words. */
export interface BackendInfo {
  backend: BackendName;
  device: string;
}

let chosen: Promise<BackendInfo> | undefined;
let registration: Registration | undefined;

async function tryNode(pkg: string, tfName: string): Promise<string | null> {
  try {
    await import(pkg);
  } catch (err) {
    return `${pkg} unavailable (${(err as Error).message.split('\n')[0]})`;
  }
  return (await tf.setBackend(tfName)) ? null : `${pkg} loaded but backend '${tfName}' failed to start`;
}

/** The native CPU kernels under tfjs `cpu` (what the CUDA backend's transfers run too), when built. */
function nativeCpu(): void {
  const load = loadAddon();
  if (load.ok) registration ??= registerNativeKernels(load.addon);
}

async function attempt(name: BackendName): Promise<{ info: BackendInfo } | { reason: string }> {
  switch (name) {
    case 'cuda':
    case 'cuda-host': {
      const load = loadCudaAddon(name === 'cuda' ? 'cuda' : 'host');
      if (!load.ok) return { reason: `CUDA backend unavailable: ${load.reason}` };
      nativeCpu();
      const backend = registerCudaBackend(name, load.addon, load.device);
      if (!(await tf.setBackend(name))) return { reason: `backend ${name} failed to start` };
      const tf32 = load.addon.stats().tf32 ? ', TF32 on' : ', FP32';
      return { info: { backend: name, device: name === 'cuda' ? `gpu (CUDA, ${backend.device}${tf32})` : `cpu (${backend.device})` } };
    }
    case 'tensorflow-gpu': {
      const reason = await tryNode('@tensorflow/tfjs-node-gpu', 'tensorflow');
      return reason ? { reason } : { info: { backend: name, device: 'gpu (CUDA, libtensorflow)' } };
    }
    case 'tensorflow': {
      const reason = await tryNode('@tensorflow/tfjs-node', 'tensorflow');
      return reason ? { reason } : { info: { backend: name, device: 'cpu (libtensorflow)' } };
    }
    case 'native-cpu': {
      const load = loadAddon();
      if (!load.ok) return { reason: `native kernels not built: ${load.reason}` };
      if (!(await tf.setBackend('cpu'))) return { reason: 'tfjs cpu backend failed to start' };
      registration ??= registerNativeKernels(load.addon);
      const i = load.addon.info();
      return { info: { backend: name, device: `cpu (native kernels, OpenBLAS ${i.blasCore}, ${i.ompThreads} threads)` } };
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) return { reason: 'tfjs cpu backend failed to start' };
      registration?.restore();
      registration = undefined;
      return { info: { backend: name, device: 'cpu (JavaScript)' } };
    }
  }
}

function parseName(v: string | undefined, what: string): BackendName | undefined {
  if (v === undefined || v === '') return undefined;
  if ((BACKENDS as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(`${what}: '${v}' is not one of ${BACKENDS.join(', ')}`);
}

async function pick(opts: BackendOptions): Promise<BackendInfo> {
  const force = opts.force ?? parseName(process.env.FLOTILLA_BACKEND, 'FLOTILLA_BACKEND');
  const notice = opts.onNotice ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (force) {
    const r = await attempt(force);
    if ('reason' in r) throw new Error(`backend ${force} was forced but is unavailable: ${r.reason}`);
    return r.info;
  }
  const order = BACKENDS.slice(BACKENDS.indexOf(opts.prefer ?? BACKENDS[0])).filter((b) => !FORCED_ONLY.includes(b));
  const skipped: string[] = [];
  for (const name of order) {
    const r = await attempt(name);
    if ('info' in r) {
      // tfjs-node absent is the expected case, and so is no CUDA backend on a machine without an
      // NVIDIA device; a missing native build, or a GPU the CUDA backend could not use, deserves a notice.
      const why = skipped.filter((s) => s.startsWith('native kernels') || (s.startsWith('CUDA backend') && existsSync('/dev/nvidiactl')));
      if (why.length) notice(`flotilla: ${why.join('; ')}; using ${r.info.backend} (${r.info.device})`);
      return r.info;
    }
    skipped.push(r.reason);
  }
  throw new Error(`no tfjs backend could start: ${skipped.join('; ')}`);
}

/** Starts the best available backend once; later calls return the same answer. */
export function initBackend(opts: BackendOptions = {}): Promise<BackendInfo> {
  chosen ??= pick(opts).catch((err: unknown) => {
    chosen = undefined;
    throw err;
  });
  return chosen;
}

/**
 * Lets go of the native kernels' free output buffers (memory-pool.ts), or of the CUDA memory
 * pool's free blocks, between phases whose tensor shapes differ, training and validation.
 */
export function releaseKernelBuffers(): void {
  memoryPool.trim(0);
  if (tf.getBackend() === 'cuda') cudaTrim();
  // the dropped buffers are garbage only: collect them now, before the next phase allocates its
  // own (V8 would otherwise keep ~1.5 GB of them through a validation; docs/limits.md)
  collectGarbage();
}

/**
 * Runs `fn` (a validation) with the kernels' pool keeping no free buffers (memory-pool.ts
 * setKeeping), then lets go of what it left.
 */
export async function withoutKernelPool<T>(fn: () => Promise<T>): Promise<T> {
  releaseKernelBuffers();
  memoryPool.setKeeping(false);
  try {
    return await fn();
  } finally {
    memoryPool.setKeeping(true);
    releaseKernelBuffers();
  }
}

/** Ends a training step for the kernels' buffer pool (memory-pool.ts endStep). */
export function endKernelStep(): void {
  memoryPool.endStep();
}

let gc: (() => void) | undefined;
/** A full V8 collection (gc is exposed at run time: processes start without --expose-gc). */
function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/** Gives the device memory pool's free blocks back to the driver. */
function cudaTrim(): void {
  const load = loadCudaAddon('cuda');
  if (load.ok) load.addon.trim();
}
