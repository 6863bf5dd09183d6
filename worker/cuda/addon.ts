// Loads one of the CUDA backend's two addons (scripts/build-cuda.mjs builds both into
// build/cuda/): the real one (nvcc, device memory, cuBLAS) or the host variant (the same
// kernel sources compiled by g++, host memory standing in for device memory).
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from '../../shared/run-entry.ts';

/** A device address (a host address in the host variant), exact as a JS number. */
export type Ptr = number;

/** The functions of the addon (worker/cuda/src/addon.cc). Every kernel is enqueued on one stream. */
export interface CudaAddon {
  init(): { ok: boolean; reason: string; device: string; host: boolean };
  alloc(bytes: number): Ptr;
  free(p: Ptr): void;
  upload(p: Ptr, src: ArrayBufferView): void;
  /** Copies back; waits for the stream. */
  download(p: Ptr, dst: ArrayBufferView): void;
  copy(dst: Ptr, src: Ptr, bytes: number): void;
  zero(p: Ptr, bytes: number): void;
  sync(): void;
  trim(): void;
  setTf32(on: boolean): void;
  stats(): CudaStats;
  /** op: 0..7 Add Sub Mul Div Max Min SqDiff Pow; 8.. Less LessEqual Greater GreaterEqual Equal NotEqual And Or FloorDiv. dtype 0 f32, 1 i32 */
  binary(a: Ptr, b: Ptr, out: Ptr, shape: number[], sa: number[], sb: number[], op: number, dtype: number): void;
  /** binary with one operand a value (s op a when scalarLeft), over n elements */
  binaryScalar(a: Ptr, s: number, scalarLeft: boolean, out: Ptr, n: number, op: number, dtype: number): void;
  unary(x: Ptr, out: Ptr, n: number, op: number, p0: number, p1: number): void;
  /** dtype codes 0 float32, 1 int32, 2 bool */
  cast(x: Ptr, out: Ptr, n: number, from: number, to: number): void;
  fill(out: Ptr, n: number, bits: number): void;
  /** FlotillaNesterov over [begin, end): lr, wd, mu are addresses of the group's 1-element values */
  nesterov(p: Ptr, g: Ptr, v: Ptr, pOut: Ptr, vOut: Ptr, begin: number, end: number, lr: Ptr, wd: Ptr, mu: Ptr, first: boolean): void;
  /** out = e·d + od·m over n values; d, od are addresses of 1-element values */
  ema(e: Ptr, m: Ptr, d: Ptr, od: Ptr, out: Ptr, n: number): void;
  /** out[i] = start + i·step (float32, or int32 when isInt) */
  range(out: Ptr, n: number, start: number, step: number, isInt: boolean): void;
  /** on/off: the uint32 bit patterns of the values in the output dtype */
  oneHot(idx: Ptr, out: Ptr, n: number, depth: number, onBits: number, offBits: number): void;
  select(cond: Ptr, a: Ptr, b: Ptr, out: Ptr, n: number, inner: number): void;
  batchNorm(
    x: Ptr,
    out: Ptr,
    n: number,
    c: number,
    mean: Ptr,
    lm: number,
    variance: Ptr,
    lv: number,
    offset: Ptr,
    lo: number,
    scale: Ptr,
    ls: number,
    eps: number,
  ): void;
  stridedCopy(
    src: Ptr,
    dst: Ptr,
    shape: number[],
    outStride: number[],
    inStride: number[],
    inDim: number[],
    before: number[],
    tile: boolean,
    fillBits: number,
    inBase: number,
    outBase: number,
  ): void;
  /** op 0 sum, 1 mean, 2 max, 3 min, 4 prod over r of [outer, r, inner] */
  reduce(x: Ptr, out: Ptr, outer: number, r: number, inner: number, op: number): void;
  argReduce(x: Ptr, out: Ptr, outer: number, r: number, inner: number, max: boolean): void;
  /** shape: [n, h, w, c, oh, ow, oc, kh, kw, sh, sw, dh, dw, padTop, padLeft] */
  conv2d(x: Ptr, w: Ptr, out: Ptr, shape: number[], bias: Ptr, act: number, alpha: number): void;
  conv2dBackpropInput(dy: Ptr, w: Ptr, dx: Ptr, shape: number[]): void;
  conv2dBackpropFilter(x: Ptr, dy: Ptr, dw: Ptr, shape: number[]): void;
  matMul(a: Ptr, b: Ptr, out: Ptr, batchA: number, batchB: number, m: number, n: number, k: number, ta: boolean, tb: boolean): void;
  bnActForward(x: Ptr, gamma: Ptr, beta: Ptr, y: Ptr, mean: Ptr, variance: Ptr, rows: number, c: number, eps: number, act: number): void;
  bnActBackward(
    dy: Ptr,
    x: Ptr,
    gamma: Ptr,
    beta: Ptr,
    mean: Ptr,
    variance: Ptr,
    dx: Ptr,
    dgamma: Ptr,
    dbeta: Ptr,
    rows: number,
    c: number,
    eps: number,
    act: number,
  ): void;
  /** shape: [n, h, w, c, oh, ow, kh, kw, sh, sw, padTop, padLeft] */
  maxPool(x: Ptr, out: Ptr, shape: number[]): void;
  maxPoolGrad(dy: Ptr, x: Ptr, dx: Ptr, shape: number[]): void;
  resizeNearest(x: Ptr, out: Ptr, shape: number[], rowMap: Int32Array, colMap: Int32Array): void;
  resizeNearestGrad(dy: Ptr, dx: Ptr, shape: number[], rowMap: Int32Array, colMap: Int32Array): void;
  gather(x: Ptr, idx: Ptr, out: Ptr, outer: number, axis: number, nIdx: number, inner: number): void;
  segmentSum(x: Ptr, ids: Ptr, out: Ptr, n: number, inner: number, segments: number): void;
  scatterNd(
    idx: Ptr,
    updates: Ptr,
    out: Ptr,
    numUpdates: number,
    sliceRank: number,
    strides: number[],
    sliceSize: number,
    slices: number,
  ): void;
}

/** Allocations and transfers since the addon loaded. */
export interface CudaStats {
  live: number;
  bytes: number;
  peak: number;
  allocs: number;
  uploads: number;
  downloads: number;
  uploadBytes: number;
  downloadBytes: number;
  tf32: boolean;
}

export type CudaVariant = 'cuda' | 'host';

const root = REPO_ROOT;
export const CUDA_ADDON_PATHS: Readonly<Record<CudaVariant, string>> = {
  cuda: join(root, 'build', 'cuda', 'flotilla_cuda.node'),
  host: join(root, 'build', 'cuda', 'flotilla_cuda_host.node'),
};

export type CudaLoad = { ok: true; addon: CudaAddon; device: string } | { ok: false; reason: string };
const cache = new Map<CudaVariant, CudaLoad>();

/**
 * libcublas from the `nvidia-cublas` pip package (as PyTorch installs it), whose directory is not
 * on the loader's path: site-packages/nvidia/cublas/lib (or nvidia/cu13/lib) of the system's and
 * the user's Pythons.
 */
export function pipCublas(): string | undefined {
  const bases = ['/usr/local/lib', '/usr/lib', join(homedir(), '.local', 'lib')];
  for (const base of bases) {
    let pys: string[] = [];
    try {
      pys = readdirSync(base).filter((d) => d.startsWith('python3'));
    } catch {
      continue;
    }
    for (const py of pys) {
      for (const sp of ['site-packages', 'dist-packages']) {
        for (const sub of ['cublas', 'cu13']) {
          const dir = join(base, py, sp, 'nvidia', sub, 'lib');
          let libs: string[] = [];
          try {
            libs = readdirSync(dir).filter((f) => /^libcublas\.so\.\d+$/.test(f));
          } catch {
            continue;
          }
          if (libs.length) return join(dir, libs.sort().pop()!);
        }
      }
    }
  }
  return undefined;
}

/** Loads and starts a variant once (FLOTILLA_CUDA_ADDON overrides the real one's path). */
export function loadCudaAddon(variant: CudaVariant): CudaLoad {
  const hit = cache.get(variant);
  if (hit) return hit;
  const path = variant === 'cuda' ? process.env.FLOTILLA_CUDA_ADDON || CUDA_ADDON_PATHS.cuda : CUDA_ADDON_PATHS.host;
  let load: CudaLoad;
  if (!existsSync(path)) {
    load = { ok: false, reason: `${path} is missing (npm run build:cuda${variant === 'cuda' ? ' with nvcc >= 11.8' : ''})` };
  } else {
    try {
      // read by the addon's dlopen of cuBLAS when it starts (src/gemm.cu)
      if (variant === 'cuda' && !process.env.FLOTILLA_CUBLAS) {
        const pip = pipCublas();
        if (pip) process.env.FLOTILLA_CUBLAS = pip;
      }
      const addon = createRequire(import.meta.url)(path) as CudaAddon;
      const r = addon.init();
      load = r.ok ? { ok: true, addon, device: r.device } : { ok: false, reason: r.reason };
    } catch (err) {
      load = { ok: false, reason: `cannot load ${path}: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  cache.set(variant, load);
  return load;
}
