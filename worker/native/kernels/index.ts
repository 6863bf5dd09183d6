// Every native kernel, by family.
import type { NativeKernel } from '../cpu-backend.ts';
import { convKernels } from './conv.ts';
import { elementwiseKernels } from './elementwise.ts';
import { gatherKernels } from './gather.ts';
import { layoutKernels } from './layout.ts';
import { matmulKernels } from './matmul.ts';
import { normKernels } from './norm.ts';
import { poolKernels } from './pool.ts';
import { reduceKernels } from './reduce.ts';

export { collapseBroadcast, type Collapsed } from './broadcast.ts';
export { BINARY_OPS, UNARY_OPS } from './elementwise.ts';

/** All kernels the addon replaces on the tfjs `cpu` backend. */
export const NATIVE_KERNELS: readonly NativeKernel[] = [
  ...convKernels,
  ...matmulKernels,
  ...elementwiseKernels,
  ...reduceKernels,
  ...layoutKernels,
  ...poolKernels,
  ...normKernels,
  ...gatherKernels,
];
