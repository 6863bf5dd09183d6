// The CUDA backend of the engine (docs/gpu.md).
export { CUDA_ADDON_PATHS, loadCudaAddon, type CudaAddon, type CudaStats, type CudaVariant } from './addon.ts';
export { CudaBackend } from './backend.ts';
export { CUDA_KERNELS } from './kernels/index.ts';
export {
  cudaBackend,
  cudaReport,
  cudaTransfers,
  formatCudaReport,
  registerCudaBackend,
  type CudaBackendName,
  type CudaReport,
} from './register.ts';
