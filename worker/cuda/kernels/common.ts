// What a kernel of the CUDA backend receives and returns, and small shape helpers.
import * as tf from '@tensorflow/tfjs';

import type { CudaBackend } from '../backend.ts';

/** The arguments tfjs hands a kernel. */
export interface Args {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: CudaBackend;
  attrs: Record<string, unknown>;
}

/** A kernel: its outputs, or null to run the call by transfer on the CPU kernel (counted). */
export interface CudaKernel {
  name: string;
  run(args: Args): tf.TensorInfo | tf.TensorInfo[] | null;
}

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let k = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = k;
    k *= shape[d];
  }
  return s;
}

export function attr<T>(args: Args, name: string): T {
  return args.attrs[name] as T;
}

/** Whether the backend keeps this dtype in device memory (4-byte elements). */
export function onDevice(t: tf.TensorInfo | undefined): t is tf.TensorInfo {
  return t !== undefined && (t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool');
}

/** The uint32 bit pattern of a value stored as `dtype`. */
export function bitsOf(value: number, dtype: tf.DataType): number {
  if (dtype === 'float32') return new Uint32Array(Float32Array.of(value).buffer)[0];
  if (dtype === 'bool') return value ? 1 : 0;
  return new Uint32Array(Int32Array.of(value).buffer)[0];
}

/** A tensor sharing `x`'s storage under another shape (Reshape, Identity). */
export function share(args: Args, x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype: x.dtype };
}
