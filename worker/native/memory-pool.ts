/**
 * A free list of float32 output buffers for the native kernels, fed by tfjs's `disposeData`.
 *
 * Without it every kernel output is a fresh `Float32Array`: calloc'd (zeroed), page-faulted in
 * on first touch, and freed only when V8 next collects. A YOLOv5n step at batch 16 allocates
 * a few GB that way, and the external-memory pressure makes V8 run a mark-compact every few
 * kernels, whose helper threads then fight the compute threads for the machine's cores. With
 * the pool, a disposed tensor's buffer goes straight to the next output of the same length.
 *
 * A buffer is recycled only while the pool is sure nothing else can see it: any read of the
 * tensor's values through the backend (`dataSync`, `data`, `bufferSync`) or any second tensor
 * written from the same memory (a JS kernel's `subarray` view, say) marks it as escaped, and an
 * escaped buffer is left to the garbage collector as before.
 */
import { totalmem } from 'node:os';
import type * as tf from '@tensorflow/tfjs';

/** Options of the pool; each has an environment variable for processes that cannot pass it. */
export interface MemoryPoolOptions {
  /**
   * Bytes kept in free lists at most; beyond it, the oldest free buffers go. Default: a quarter
   * of the machine's memory, at most 4 GiB (FLOTILLA_POOL_MB). A YOLOv5n step at batch 16 and
   * 320 px frees ~1.2 GB back into the lists; a cap below that evicts buffers the next step
   * needs, and each miss is a fresh, page-faulted allocation.
   */
  maxFreeBytes?: number;
  /** Buffers shorter than this (in floats) are not pooled. Default 4096. */
  minLength?: number;
  /** Fill every recycled buffer with NaN, so a kernel that leaves part of its output unwritten shows. Default false (FLOTILLA_POOL_POISON=1). */
  poison?: boolean;
}

/** Counters since installation. */
export interface PoolStats {
  hits: number;
  misses: number;
  recycled: number;
  escaped: number;
  freeBytes: number;
}

/** The part of MathBackendCPU the pool hooks. */
interface HookableBackend {
  data: { get(dataId: tf.DataId): { values?: unknown } | undefined; has(dataId: tf.DataId): boolean };
  write(values: unknown, shape: number[], dtype: tf.DataType): tf.DataId;
  readSync(dataId: tf.DataId): unknown;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** fresh: handed out, not yet in a tensor; owned: held by exactly one tensor; escaped: seen outside. */
type BufState = 'fresh' | 'owned' | 'escaped';

export class MemoryPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly order = new Set<Float32Array>(); // free buffers, oldest first, for eviction
  private readonly state = new WeakMap<ArrayBuffer, BufState>();
  private readonly opts: Required<MemoryPoolOptions>;
  private undo: (() => void) | null = null;
  /** lengths asked for since the last `endStep`, and in the step before it */
  private wanted = new Set<number>();
  private wantedBefore = new Set<number>();
  private keeping = true;
  readonly stats: PoolStats = { hits: 0, misses: 0, recycled: 0, escaped: 0, freeBytes: 0 };

  constructor(opts: MemoryPoolOptions = {}) {
    const mb = process.env.FLOTILLA_POOL_MB ? Number(process.env.FLOTILLA_POOL_MB) : NaN;
    this.opts = {
      maxFreeBytes: opts.maxFreeBytes ?? (Number.isFinite(mb) && mb >= 0 ? mb * 2 ** 20 : Math.min(4 * 2 ** 30, totalmem() / 4)),
      minLength: opts.minLength ?? 4096,
      poison: opts.poison ?? process.env.FLOTILLA_POOL_POISON === '1',
    };
  }

  get installed(): boolean {
    return this.undo !== null;
  }

  /** A buffer of `n` floats whose contents are unspecified: the caller writes every element. */
  alloc(n: number): Float32Array {
    return this.take(n).buf;
  }

  /** A buffer of `n` zeros. */
  allocZeroed(n: number): Float32Array {
    const { buf, recycled } = this.take(n);
    if (recycled) buf.fill(0);
    return buf;
  }

  private take(n: number): { buf: Float32Array; recycled: boolean } {
    if (this.undo === null || n < this.opts.minLength) return { buf: new Float32Array(n), recycled: false };
    this.wanted.add(n);
    const buf = this.free.get(n)?.pop();
    if (buf) {
      this.stats.freeBytes -= buf.byteLength;
      this.order.delete(buf);
      this.stats.hits++;
      this.state.set(buf.buffer as ArrayBuffer, 'fresh');
      return { buf, recycled: true };
    }
    this.stats.misses++;
    const fresh = new Float32Array(n);
    this.state.set(fresh.buffer, 'fresh');
    return { buf: fresh, recycled: false };
  }

  /**
   * Drops free buffers, oldest first, until at most `keepBytes` stay: for a phase whose shapes
   * differ (validation's rect batches after training, training after validation), so the
   * buffers of one phase are not kept through the other. Measured on YOLOv5n at 320, batch 16:
   * validation (batch 32, rect shapes) left ~1.1 GB more in the lists for the rest of the run,
   * and on a real dataset the lists grew to the 4 GiB default cap (the 5.7 GB peak RSS).
   */
  trim(keepBytes = 0): void {
    for (const old of this.order) {
      if (this.stats.freeBytes <= keepBytes) break;
      this.order.delete(old);
      const l = this.free.get(old.length);
      const i = l ? l.indexOf(old) : -1;
      if (l && i >= 0) l.splice(i, 1);
      if (l && l.length === 0) this.free.delete(old.length);
      this.stats.freeBytes -= old.byteLength;
    }
  }

  /**
   * Whether disposed outputs go to the free lists (default) or are left to the garbage collector.
   * Off for validation: one eval forward's outputs all have different lengths, so the lists only
   * collected the whole pass's feature maps (~1 GB for YOLOv5n, 32 images at 320) and reused none.
   */
  setKeeping(on: boolean): void {
    this.keeping = on;
  }

  /**
   * Marks the end of a training step: free buffers of a length asked for in neither this step
   * nor the one before go. Some outputs' lengths change with every batch (the loss's target
   * gathers, whose size is the batch's matched anchors); without this they piled up in the lists
   * at ~30 MB a step (YOLOv5n, 320, batch 16, COCO-like labels) until the 4 GiB cap.
   */
  endStep(): void {
    for (const [len, list] of this.free) {
      if (this.wanted.has(len) || this.wantedBefore.has(len)) continue;
      for (const buf of list) {
        this.order.delete(buf);
        this.stats.freeBytes -= buf.byteLength;
      }
      this.free.delete(len);
    }
    this.wantedBefore = this.wanted;
    this.wanted = new Set();
  }

  /** Hooks `backend` (tfjs's MathBackendCPU instance); returns the undo. */
  install(backend: HookableBackend): () => void {
    if (this.undo) return this.undo;
    const { write, readSync, disposeData } = backend;
    const pool = this;
    backend.write = function (values, shape, dtype) {
      pool.onWrite(values);
      return write.call(this, values, shape, dtype);
    };
    backend.readSync = function (dataId) {
      pool.escape(this.data.get(dataId)?.values);
      return readSync.call(this, dataId);
    };
    backend.disposeData = function (dataId, force) {
      const values = this.data.get(dataId)?.values;
      const gone = disposeData.call(this, dataId, force);
      if (gone && !this.data.has(dataId)) pool.recycle(values);
      return gone;
    };
    this.undo = () => {
      backend.write = write;
      backend.readSync = readSync;
      backend.disposeData = disposeData;
      this.undo = null;
      this.free.clear();
      this.order.clear();
      this.stats.freeBytes = 0;
    };
    return this.undo;
  }

  private onWrite(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const buf = values.buffer as ArrayBuffer;
    const s = this.state.get(buf);
    if (s === undefined) return;
    // The pooled array itself, written once: its tensor owns it. Anything else (a second
    // tensor on it, or a view into it) means two owners.
    if (s === 'fresh' && values instanceof Float32Array && values.byteOffset === 0 && values.byteLength === buf.byteLength) {
      this.state.set(buf, 'owned');
    } else {
      this.markEscaped(buf);
    }
  }

  private escape(values: unknown): void {
    if (ArrayBuffer.isView(values) && this.state.has(values.buffer as ArrayBuffer)) this.markEscaped(values.buffer as ArrayBuffer);
  }

  private markEscaped(buf: ArrayBuffer): void {
    if (this.state.get(buf) !== 'escaped') this.stats.escaped++;
    this.state.set(buf, 'escaped');
  }

  private recycle(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    const buf = values.buffer as ArrayBuffer;
    if (this.state.get(buf) !== 'owned') return;
    this.state.delete(buf);
    if (!this.keeping || values.byteLength > this.opts.maxFreeBytes) return;
    if (this.opts.poison) values.fill(Number.NaN);
    let list = this.free.get(values.length);
    if (!list) this.free.set(values.length, (list = []));
    list.push(values);
    this.order.add(values);
    this.stats.freeBytes += values.byteLength;
    this.stats.recycled++;
    this.trim(this.opts.maxFreeBytes);
  }
}

/** The one pool the native kernels allocate from; inactive (plain allocation) until installed. */
export const memoryPool = new MemoryPool();

/** An output buffer of `n` floats that the kernel will write completely. */
export function allocOutput(n: number): Float32Array {
  return memoryPool.alloc(n);
}

/** An output buffer of `n` zeros. */
export function allocZeros(n: number): Float32Array {
  return memoryPool.allocZeroed(n);
}
