/**
 * The tfjs backend `cuda` (and `cuda-host`, the same over the host variant of the addon): tensor
 * data lives in the addon's memory. Values written from JavaScript stay on the host until a
 * kernel needs them (lazy upload); readSync/read copy back; Reshape and Identity share a data
 * id (refcounts); disposing the last reference frees the memory.
 */
import * as tf from '@tensorflow/tfjs';

import type { CudaAddon, Ptr } from './addon.ts';

type Values = Float32Array | Int32Array | Uint8Array;

interface Entry {
  dtype: tf.DataType;
  size: number;
  /** Device memory (0 while the values are only on the host). */
  ptr: Ptr;
  /** Values not uploaded yet (null once on the device, or for an output not yet written). */
  host: Values | string[] | Uint8Array[] | null;
  refCount: number;
}

/** dtype → the addon's code; every dtype is stored as 4-byte elements (bool as int32 0/1). */
export const DTYPE_CODE: Readonly<Partial<Record<tf.DataType, number>>> = { float32: 0, int32: 1, bool: 2 };

/** Kernel calls that ran by transfer (download, the CPU kernel, upload), per kernel. */
export type FallbackCounts = Map<string, number>;

export class CudaBackend extends tf.KernelBackend {
  private readonly data = new WeakMap<tf.DataId, Entry>();
  private ids = 0;
  readonly fallbacks: FallbackCounts = new Map();
  /** Kernel calls that ran natively, per kernel. */
  readonly native = new Map<string, number>();

  constructor(
    readonly addon: CudaAddon,
    readonly name: string,
    readonly device: string,
  ) {
    super();
  }

  private entry(dataId: tf.DataId): Entry {
    let e = this.data.get(dataId);
    if (!e && (tf.engine().state as unknown as { tensorInfo: WeakMap<tf.DataId, unknown> }).tensorInfo.has(dataId)) {
      // a tensor made on another backend (a kept constant, say): moved here as tfjs's own backends move it
      tf.engine().moveData(this, dataId);
      e = this.data.get(dataId);
    }
    if (!e) throw new Error(`${this.name}: unknown or disposed data id`);
    return e;
  }

  override write(values: tf.backend_util.BackendValues | null, shape: number[], dtype: tf.DataType): tf.DataId {
    const dataId = {};
    this.move(dataId, values, shape, dtype, 1);
    return dataId;
  }

  override move(
    dataId: tf.DataId,
    values: tf.backend_util.BackendValues | null,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    if (dtype === 'complex64') throw new Error(`${this.name}: complex64 is not supported`);
    const size = tf.util.sizeFromShape(shape);
    this.data.set(dataId, { dtype, size, ptr: 0, host: (values as Entry['host']) ?? null, refCount });
    this.ids++;
  }

  /** A fresh output of the given shape in device memory (contents unset). */
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo {
    const dataId = {};
    const size = tf.util.sizeFromShape(shape);
    this.data.set(dataId, { dtype, size, ptr: this.addon.alloc(size * 4), host: null, refCount: 1 });
    this.ids++;
    return { dataId, shape, dtype };
  }

  /** tfjs-style helper: an output with the given values (uploaded when a kernel needs them). */
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo {
    return { dataId: this.write(values ?? null, shape, dtype), shape, dtype };
  }

  disposeIntermediateTensorInfo(t: tf.TensorInfo): void {
    this.disposeData(t.dataId);
  }

  /**
   * The value of a 1-element tensor written from JavaScript and not uploaded yet (a constant an op
   * was given as a number), else null: kernels take it by value, so it never travels.
   */
  hostScalar(t: tf.TensorInfo): number | null {
    const e = this.entry(t.dataId);
    if (e.ptr !== 0 || e.size !== 1 || e.host === null || DTYPE_CODE[e.dtype] === undefined) return null;
    const v = (e.host as Values)[0];
    return typeof v === 'number' ? v : null;
  }

  /** The device address of a tensor's data, uploading values written from JavaScript first. */
  ptr(t: tf.TensorInfo): Ptr {
    const e = this.entry(t.dataId);
    if (e.ptr !== 0) return e.ptr;
    if (DTYPE_CODE[e.dtype] === undefined) throw new Error(`${this.name}: ${e.dtype} tensors stay on the host`);
    e.ptr = this.addon.alloc(e.size * 4);
    const h = e.host;
    if (h !== null && e.size > 0) {
      const v = h as Values;
      this.addon.upload(e.ptr, e.dtype === 'float32' ? toF32(v) : toI32(v));
    } else if (h === null && e.size > 0) {
      this.addon.zero(e.ptr, e.size * 4); // written without values: tfjs zero-fills those
    }
    e.host = null;
    return e.ptr;
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const e = this.entry(dataId);
    if (e.ptr === 0) {
      if (e.host !== null) return e.host as tf.backend_util.BackendValues;
      return e.dtype === 'string' ? [] : tf.util.getTypedArrayFromDType(e.dtype as 'float32', e.size);
    }
    if (e.dtype === 'float32') {
      const out = new Float32Array(e.size);
      if (e.size > 0) this.addon.download(e.ptr, out);
      return out;
    }
    const out = new Int32Array(e.size);
    if (e.size > 0) this.addon.download(e.ptr, out);
    return e.dtype === 'bool' ? Uint8Array.from(out) : out;
  }

  override read(dataId: tf.DataId): Promise<tf.backend_util.BackendValues> {
    return Promise.resolve(this.readSync(dataId));
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const e = this.data.get(dataId);
    if (!e) return true;
    e.refCount--;
    if (!force && e.refCount > 0) return false;
    if (e.ptr !== 0) this.addon.free(e.ptr);
    this.data.delete(dataId);
    this.ids--;
    return true;
  }

  override refCount(dataId: tf.DataId): number {
    return this.data.get(dataId)?.refCount ?? 0;
  }

  override incRef(dataId: tf.DataId): void {
    this.entry(dataId).refCount++;
  }

  override numDataIds(): number {
    return this.ids;
  }

  override memory(): { unreliable: boolean; reasons?: string[] } & { numBytesInGPU: number } {
    return { unreliable: false, numBytesInGPU: this.addon.stats().bytes };
  }

  override async time(f: () => void): Promise<tf.BackendTimingInfo> {
    const t0 = performance.now();
    f();
    this.addon.sync();
    return { kernelMs: performance.now() - t0 };
  }

  override timerAvailable(): boolean {
    return true;
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  override dispose(): void {
    this.addon.sync();
  }
}

function toF32(v: Values): Float32Array {
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

function toI32(v: Values): Int32Array {
  return v instanceof Int32Array ? v : Int32Array.from(v);
}
