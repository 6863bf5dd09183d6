/**
 * The checkpoint container: one binary blob, safetensors-like.
 *
 *   bytes 0..8     header length N, unsigned 64-bit little-endian
 *   bytes 8..8+N   UTF-8 JSON {tensors: {name: {dtype, shape, offsets: [begin, end]}}, meta: {...}},
 *                  padded with spaces so the data starts 8-byte aligned
 *   bytes 8+N..    raw little-endian tensor data; offsets are relative to the data start
 *
 * Tensors are written in name order, so the same content always gives the same bytes.
 */
import { EngineError } from '../errors.ts';

/** Element types a checkpoint can hold (names as in safetensors). */
export const DTYPES = ['F32', 'F64', 'I32', 'U32', 'U8'] as const;
export type DType = (typeof DTYPES)[number];

export type TensorData = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

/** JSON that survives a round trip unchanged. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface StoredTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export interface CheckpointContent {
  tensors: Map<string, StoredTensor>;
  meta: { [k: string]: Json };
}

export class CheckpointFormatError extends EngineError {
  override name = 'CheckpointFormatError';
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const BYTES: Record<DType, number> = { F32: 4, F64: 8, I32: 4, U32: 4, U8: 1 };
/** Refuse headers larger than this: a corrupt length must not allocate gigabytes. */
const MAX_HEADER = 100 * 1024 * 1024;

export function dtypeOf(a: TensorData): DType {
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof Float64Array) return 'F64';
  if (a instanceof Int32Array) return 'I32';
  if (a instanceof Uint32Array) return 'U32';
  return 'U8';
}

function view(dtype: DType, buf: ArrayBuffer, byteOffset: number, length: number): TensorData {
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf, byteOffset, length);
    case 'F64':
      return new Float64Array(buf, byteOffset, length);
    case 'I32':
      return new Int32Array(buf, byteOffset, length);
    case 'U32':
      return new Uint32Array(buf, byteOffset, length);
    case 'U8':
      return new Uint8Array(buf, byteOffset, length);
  }
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A tensor entry from a typed array; `shape` defaults to 1-D. */
export function stored(data: TensorData, shape: number[] = [data.length]): StoredTensor {
  if (numel(shape) !== data.length) throw new CheckpointFormatError(`shape [${shape}] does not hold ${data.length} elements`);
  return { dtype: dtypeOf(data), shape: [...shape], data };
}

/** Serializes tensors + meta into one Uint8Array. */
export function encodeCheckpoint(content: CheckpointContent): Uint8Array {
  const names = [...content.tensors.keys()].sort();
  const entries: Record<string, { dtype: DType; shape: number[]; offsets: [number, number] }> = {};
  let pos = 0;
  for (const name of names) {
    const t = content.tensors.get(name)!;
    if (dtypeOf(t.data) !== t.dtype) throw new CheckpointFormatError(`tensor ${name}: dtype ${t.dtype} does not match its data`);
    if (numel(t.shape) !== t.data.length)
      throw new CheckpointFormatError(`tensor ${name}: shape [${t.shape}] does not hold ${t.data.length} elements`);
    // 8-byte alignment of every tensor lets decode hand out views instead of copies.
    pos = Math.ceil(pos / 8) * 8;
    const end = pos + t.data.byteLength;
    entries[name] = { dtype: t.dtype, shape: t.shape, offsets: [pos, end] };
    pos = end;
  }
  let header = new TextEncoder().encode(JSON.stringify({ tensors: entries, meta: content.meta }));
  const padded = Math.ceil((8 + header.length) / 8) * 8 - 8;
  if (padded !== header.length) {
    const h = new Uint8Array(padded).fill(0x20);
    h.set(header);
    header = h;
  }
  const out = new Uint8Array(8 + header.length + pos);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  const base = 8 + header.length;
  for (const name of names) {
    const t = content.tensors.get(name)!;
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, base + entries[name].offsets[0]);
  }
  return out;
}

/**
 * Parses a blob written by encodeCheckpoint. Tensors are copies (they do not alias `bytes`).
 * Throws CheckpointFormatError on any inconsistency (truncation, overlapping or bad offsets).
 */
export function decodeCheckpoint(bytes: Uint8Array): CheckpointContent {
  if (bytes.length < 8) throw new CheckpointFormatError(`checkpoint too short (${bytes.length} bytes)`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) throw new CheckpointFormatError(`bad header length ${n}`);
  const hlen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hlen)));
  } catch (e) {
    throw new CheckpointFormatError('checkpoint header is not valid JSON', { cause: e });
  }
  if (typeof header !== 'object' || header === null) throw new CheckpointFormatError('checkpoint header is not an object');
  const { tensors, meta } = header as { tensors?: unknown; meta?: unknown };
  if (typeof tensors !== 'object' || tensors === null) throw new CheckpointFormatError('checkpoint header has no tensors');
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new CheckpointFormatError('checkpoint header has no meta');
  const base = 8 + hlen;
  const dataLen = bytes.length - base;
  const out = new Map<string, StoredTensor>();
  const spans: Array<[number, number, string]> = [];
  for (const [name, e] of Object.entries(tensors as Record<string, unknown>)) {
    const { dtype, shape, offsets } = (e ?? {}) as { dtype?: unknown; shape?: unknown; offsets?: unknown };
    if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype))
      throw new CheckpointFormatError(`tensor ${name}: bad dtype ${String(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new CheckpointFormatError(`tensor ${name}: bad shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0))
      throw new CheckpointFormatError(`tensor ${name}: bad offsets`);
    const [b, end] = offsets as [number, number];
    const dt = dtype as DType;
    const count = numel(shape as number[]);
    if (end - b !== count * BYTES[dt] || end > dataLen)
      throw new CheckpointFormatError(`tensor ${name}: offsets [${b}, ${end}] do not fit shape [${shape}] / data of ${dataLen} bytes`);
    // Copy into a fresh aligned buffer: the source may sit at any byte offset.
    const copy = bytes.slice(base + b, base + end);
    out.set(name, { dtype: dt, shape: shape as number[], data: view(dt, copy.buffer, 0, count) });
    spans.push([b, end, name]);
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw new CheckpointFormatError(`tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
  }
  return { tensors: out, meta: meta as { [k: string]: Json } };
}
