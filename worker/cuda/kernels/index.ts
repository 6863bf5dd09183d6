// Every kernel the CUDA backend runs on the addon, by family.
import type { CudaKernel } from './common.ts';
import { convKernels } from './conv.ts';
import { elementwiseKernels } from './elementwise.ts';
import { flatKernels } from './flat.ts';
import { gatherKernels } from './gather.ts';
import { layoutKernels } from './layout.ts';
import { normKernels } from './norm.ts';
import { poolKernels } from './pool.ts';
import { reduceKernels } from './reduce.ts';

export const CUDA_KERNELS: readonly CudaKernel[] = [
  ...convKernels,
  ...elementwiseKernels,
  ...layoutKernels,
  ...reduceKernels,
  ...poolKernels,
  ...normKernels,
  ...gatherKernels,
  ...flatKernels,
];
