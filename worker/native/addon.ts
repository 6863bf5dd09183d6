// Loads the compiled addon (build/Release/flotilla_native.node), or says why it could not.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from '../../shared/run-entry.ts';

/** A Float32Array argument that may be absent (bias, offset, scale). */
export type OptF32 = Float32Array | null;

/** The functions of the native addon; every output buffer is allocated by the caller. */
export interface NativeAddon {
  info(): { blasCore: string; blasThreads: number; ompThreads: number };
  setThreads(n: number): void;
  /** shape: [n, h, w, c, oh, ow, oc, kh, kw, sh, sw, dh, dw, padTop, padLeft] */
  conv2d(x: Float32Array, w: Float32Array, out: Float32Array, shape: number[], bias: OptF32, act: number, alpha: number): void;
  /** Conv calls (forward, filter or input gradient) that took the direct kernels (conv_direct.cc) since the addon loaded. */
  directConvCalls(): number;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, shape: number[]): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, shape: number[]): void;
  /** shape: [batchA, batchB, M, N, K, transposeA, transposeB] */
  batchMatMul(a: Float32Array, b: Float32Array, out: Float32Array, shape: number[], bias: OptF32, act: number, alpha: number): void;
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number): void;
  binary(a: Float32Array, b: Float32Array, out: Float32Array, shape: number[], stridesA: number[], stridesB: number[], op: number): void;
  unary(x: Float32Array, out: Float32Array, op: number, p0: number, p1: number): void;
  addN(xs: Float32Array[], out: Float32Array): void;
  reduce(x: Float32Array, out: Float32Array, outer: number, r: number, inner: number, op: number): void;
  slice(x: Float32Array, shape: number[], begin: number[], out: Float32Array, size: number[]): void;
  pad(x: Float32Array, shape: number[], before: number[], out: Float32Array, outShape: number[], value: number): void;
  concat(xs: Float32Array[], inners: number[], out: Float32Array, outer: number): void;
  split(x: Float32Array, outer: number, outs: Float32Array[], inners: number[]): void;
  tile(x: Float32Array, shape: number[], reps: number[], out: Float32Array): void;
  transpose(x: Float32Array, shape: number[], perm: number[], out: Float32Array): void;
  /** shape: [n, h, w, c, oh, ow, kh, kw, sh, sw, padTop, padLeft] */
  maxPool(x: Float32Array, out: Float32Array, shape: number[]): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, shape: number[]): void;
  /** shape: [n, h, w, c, oh, ow] */
  resizeNearest(x: Float32Array, out: Float32Array, shape: number[], rowMap: Int32Array, colMap: Int32Array): void;
  resizeNearestGrad(dy: Float32Array, dx: Float32Array, shape: number[], rowMap: Int32Array, colMap: Int32Array): void;
  /** Returns false (and writes nothing) when an index is out of range. */
  gather(x: Float32Array, indices: Int32Array, out: Float32Array, outer: number, axisSize: number, inner: number): boolean;
  segmentSum(x: Float32Array, segmentIds: Int32Array, out: Float32Array, inner: number): void;
  /** out[ids[i]] += updates[i] per row of `inner` floats; ids must be in range. */
  scatterAdd(updates: Float32Array, ids: Int32Array, out: Float32Array, inner: number): void;
  /** Training-mode BatchNorm (+ SiLU when act is 1); writes y and the batch mean and biased variance. */
  bnActForward(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    channels: number,
    eps: number,
    act: number,
  ): void;
  bnActBackward(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    channels: number,
    eps: number,
    act: number,
  ): void;
  /** Optimizer loops over flat vectors, float32-rounded like flat-math.ts's JavaScript. */
  flatAccumulate(acc: Float32Array, g: Float32Array): void;
  flatSumSquares(g: Float32Array): number;
  flatScale(g: Float32Array, c: number): void;
  flatNesterov(
    p: Float32Array,
    g: Float32Array,
    v: Float32Array,
    begin: number,
    end: number,
    lr: number,
    wd: number,
    mu: number,
    first: boolean,
  ): void;
  flatEma(e: Float32Array, m: Float32Array, decay: number, oneMinusDecay: number): void;
  batchNorm(
    x: Float32Array,
    out: Float32Array,
    channels: number,
    mean: Float32Array,
    variance: Float32Array,
    offset: OptF32,
    scale: OptF32,
    epsilon: number,
  ): void;
}

/** Outcome of loading: the addon, or the reason it is not there. */
export type AddonLoad = { ok: true; addon: NativeAddon; path: string } | { ok: false; reason: string };

const root = REPO_ROOT;
/** Where `npm run build` (node-gyp) leaves the addon. */
export const ADDON_PATH = join(root, 'build', 'Release', 'flotilla_native.node');

let cached: AddonLoad | undefined;

// Read by libopenblas and libgomp when they load, so set before the first require.
// - OpenBLAS 0.3.21 labels AVX-512 CPUs it does not know (AMD Zen 4/5) as Haswell, and some
//   machines carry OPENBLAS_CORETYPE=Haswell in their environment; its SkylakeX kernels are
//   1.8x faster sgemm on such a CPU (measured on a Zen 5: 501 vs 275 GFLOP/s). So on a CPU with
//   AVX-512 F/BW/DQ/VL the addon asks for SkylakeX, whatever OPENBLAS_CORETYPE says;
//   FLOTILLA_BLAS_CORE=<core> picks a core, FLOTILLA_BLAS_CORE=env keeps OPENBLAS_CORETYPE.
// - Idle worker threads that spin (OpenMP's default) steal the core from the thread with work
//   whenever the machine is shared: measured 5-9x slower convs on a loaded 2-core machine.
//   Passive waiting costs microseconds per parallel region.
function prepareEnv(): void {
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  const core = process.env.FLOTILLA_BLAS_CORE;
  if (core === 'env') return;
  if (core) {
    process.env.OPENBLAS_CORETYPE = core;
    return;
  }
  if (hasAvx512()) process.env.OPENBLAS_CORETYPE = 'SkylakeX';
}

/** Whether the CPU has the AVX-512 subsets OpenBLAS's SkylakeX kernels use. */
export function hasAvx512(): boolean {
  try {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
    return ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => new RegExp(`\\b${f}\\b`).test(flags));
  } catch {
    return false; // no /proc (not Linux): leave OpenBLAS to pick
  }
}

/**
 * FLOTILLA_NATIVE_THREADS if set; else the cores divided among the FLOTILLA_NATIVE_SHARE
 * processes that share the machine (the agent sets it to its slots; default 1), or one thread
 * in all when the machine is already busy (1-minute load at or above the core count): a thread
 * team waits at every barrier for its slowest member, and on a shared machine that member is
 * descheduled. Measured on a 2-core machine at load ~20: convs 9x faster on one thread than on two.
 */
export function defaultThreads(): number {
  const forced = Number(process.env.FLOTILLA_NATIVE_THREADS ?? '');
  if (Number.isInteger(forced) && forced > 0) return forced;
  const cores = availableParallelism();
  if (loadavg()[0] >= cores) return 1;
  const share = Number(process.env.FLOTILLA_NATIVE_SHARE ?? '');
  return Number.isInteger(share) && share > 1 ? Math.max(1, Math.floor(cores / share)) : cores;
}

/**
 * Loads the addon once; later calls return the same outcome. FLOTILLA_NATIVE_ADDON overrides
 * the path; the OpenBLAS and OpenMP thread counts come from defaultThreads().
 */
export function loadAddon(): AddonLoad {
  if (cached) return cached;
  const path = process.env.FLOTILLA_NATIVE_ADDON || ADDON_PATH;
  if (!existsSync(path)) {
    cached = { ok: false, reason: `${path} is missing (run npm run build)` };
    return cached;
  }
  prepareEnv();
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    addon.setThreads(defaultThreads());
    cached = { ok: true, addon, path };
  } catch (err) {
    cached = { ok: false, reason: `cannot load ${path}: ${(err as Error).message}` };
  }
  return cached;
}
