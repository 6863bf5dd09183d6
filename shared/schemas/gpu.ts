/**
 * GPUs as resources: what a node agent advertises (its inventory at registration, live figures
 * with its heartbeats) and what a job asks for. Device indices are nvidia-smi's (PCI bus order);
 * the agent pins an actor with CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER=PCI_BUS_ID so that
 * CUDA numbers the devices the same way (docs/gpus.md).
 */
import { z } from 'zod';

/** Most GPUs one node may advertise, and one rank may ask for. */
export const MAX_NODE_GPUS = 64;
export const MAX_GPUS_PER_RANK = 16;

export const GpuIndex = z
  .number()
  .int()
  .nonnegative()
  .max(MAX_NODE_GPUS - 1);

/** One GPU of a node, as found at the agent's start. */
export const GpuInfo = z.object({
  /** nvidia-smi's index (PCI bus order) */
  index: GpuIndex,
  model: z.string().min(1).max(128),
  /** total memory, MiB */
  memory_total_mib: z.number().int().nonnegative(),
  /** nvidia-smi's GPU-… UUID (absent for a declared inventory) */
  uuid: z.string().max(128).optional(),
});
export type GpuInfo = z.infer<typeof GpuInfo>;

/** Live figures of one GPU (from nvidia-smi, refreshed with heartbeats). */
export const GpuStats = z.object({
  index: GpuIndex,
  memory_used_mib: z.number().int().nonnegative(),
  /** percent of the last sample period a kernel ran (nvidia-smi utilization.gpu) */
  utilization_pct: z.number().min(0).max(100),
});
export type GpuStats = z.infer<typeof GpuStats>;

/** Where a node's inventory came from: nvidia-smi, a declared (fake, for tests) inventory, or none. */
export const GPU_SOURCES = ['nvidia-smi', 'declared', 'none'] as const;
export const GpuSource = z.enum(GPU_SOURCES);
export type GpuSource = z.infer<typeof GpuSource>;

/** Device indices one actor holds (distinct, sorted by the head). */
export const GpuList = z
  .array(GpuIndex)
  .max(MAX_GPUS_PER_RANK)
  .refine((l) => new Set(l).size === l.length, 'GPU indices must be distinct');
