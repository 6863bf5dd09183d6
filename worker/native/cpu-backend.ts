// The slice of tfjs's `cpu` backend that the native kernels touch, and the helpers around it.
import type * as tf from '@tensorflow/tfjs';

import type { NativeAddon } from './addon.ts';

type Values = Float32Array | Int32Array | Uint8Array | unknown;

/** What a native kernel needs from MathBackendCPU. */
export interface CpuBackend {
  data: { get(dataId: tf.DataId): { values?: Values } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array | Int32Array | Uint8Array): tf.TensorInfo;
  disposeIntermediateTensorInfo(t: tf.TensorInfo): void;
}

/** The arguments tfjs hands a kernel. */
export interface KernelArgs {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: CpuBackend;
  attrs: Record<string, unknown>;
}

/** A native kernel: returns its outputs, or null to hand the call to the JS kernel. */
export interface NativeKernel {
  name: string;
  run(args: KernelArgs, addon: NativeAddon): tf.TensorInfo | tf.TensorInfo[] | null;
}

/** The float32 values of a tensor, read in place (never write them: reshapes share them). */
export function f32(backend: CpuBackend, t: tf.TensorInfo | undefined): Float32Array | null {
  if (t === undefined || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : null;
}

/** The int32 values of a tensor, read in place. */
export function i32(backend: CpuBackend, t: tf.TensorInfo | undefined): Int32Array | null {
  if (t === undefined || t.dtype !== 'int32') return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Int32Array ? v : null;
}

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function output(backend: CpuBackend, shape: number[], values: Float32Array): tf.TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

export function attr<T>(args: Pick<KernelArgs, 'attrs'>, name: string): T {
  return args.attrs[name] as T;
}
