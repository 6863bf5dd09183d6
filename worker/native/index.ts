// Native CPU kernels for tfjs's `cpu` backend (OpenBLAS + OpenMP, N-API addon).
export { ADDON_PATH, defaultThreads, hasAvx512, loadAddon, type AddonLoad, type NativeAddon } from './addon.ts';
export type { CpuBackend, KernelArgs, NativeKernel } from './cpu-backend.ts';
export { NATIVE_KERNELS, BINARY_OPS, UNARY_OPS, collapseBroadcast, type Collapsed } from './kernels/index.ts';
export { registerNativeKernels, type KernelCounts, type Registration } from './register.ts';
export { profileByShape, profileKernels, formatProfile, type KernelProfile, type KernelTime, type ShapeTime } from './profiler.ts';
export {
  BN_ACT_KERNEL,
  BN_ACT_GRAD_KERNEL,
  batchNormAct,
  batchNormActComposed,
  batchNormActIsNative,
  type BnActivation,
  type BnActResult,
} from './bn-act.ts';
export { flatMath, jsFlatMath, type FlatMath } from './flat-math.ts';
export { EMA_KERNEL, NESTEROV_KERNEL, emaStep, nesterovStep, type FlatRange } from './flat-step.ts';
