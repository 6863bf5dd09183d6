/**
 * The data plane's wire format. Metadata travels in the subject, so a float32 payload is a
 * zero-copy view of the caller's buffer:
 *   <base>.d.<route>.<dest>.<lane>.<generation>.<epoch>.<seq>.<tag>.<from>.<chunk>.<total>
 * `epoch` counts the group's restarts of its operations after a lost data connection (group.ts):
 * a message of an older epoch is never applied, so a sum cannot mix two attempts. route p = to one rank (dest = rank), m = to every rank (dest = all), n = to one node (dest =
 * node index). `total` is the sender's element count (allgather needs it). Control messages
 * (join handshake, liveness probes) use <base>.c.<kind> with a small JSON body.
 */
import { CollectiveError } from './errors.ts';
import { addHalf, decodeHalf, encodeHalf } from './fp16.ts';
import type { Range } from './layout.ts';
import type { SinkSpec } from './stream-sink.ts';

export type Route = 'p' | 'm' | 'n';

export interface DataHeader {
  route: Route;
  dest: string;
  lane: number;
  generation: number;
  epoch: number;
  seq: number;
  tag: string;
  from: number;
  chunk: number;
  total: number;
}

export function dataSubject(base: string, h: DataHeader): string {
  return `${base}.d.${h.route}.${h.dest}.${h.lane}.${h.generation}.${h.epoch}.${h.seq}.${h.tag}.${h.from}.${h.chunk}.${h.total}`;
}

/** Subscription subject for one route/destination/lane. */
export function dataFilter(base: string, route: Route, dest: string, lane: number): string {
  return `${base}.d.${route}.${dest}.${lane}.>`;
}

/** Parses a data subject; undefined when it is not one (wrong shape or base). */
export function parseDataSubject(base: string, subject: string): DataHeader | undefined {
  if (!subject.startsWith(base) || subject.charCodeAt(base.length) !== 46 /* . */) return undefined;
  const t = subject.slice(base.length + 1).split('.');
  if (t.length !== 11 || t[0] !== 'd') return undefined;
  const route = t[1];
  if (route !== 'p' && route !== 'm' && route !== 'n') return undefined;
  const nums = [t[3], t[4], t[5], t[6], t[8], t[9], t[10]].map(Number);
  if (nums.some((x) => !Number.isInteger(x) || x < 0)) return undefined;
  return {
    route,
    dest: t[2],
    lane: nums[0],
    generation: nums[1],
    epoch: nums[2],
    seq: nums[3],
    tag: t[7],
    from: nums[4],
    chunk: nums[5],
    total: nums[6],
  };
}

export const controlSubject = (base: string, kind: string): string => `${base}.c.${kind}`;
export const controlFilter = (base: string): string => `${base}.c.>`;

/** Bytes per element on the wire. */
export const wireBytes = (fp16: boolean): number => (fp16 ? 2 : 4);

/**
 * The payload for data[r]: a view of the caller's memory for fp32 (nats.js copies it when it
 * flushes; callers flush before touching the range again), a fresh buffer for fp16.
 */
export function encodeRange(data: Float32Array, r: Range, fp16: boolean): Uint8Array {
  const n = r.end - r.start;
  if (!fp16) return new Uint8Array(data.buffer, data.byteOffset + r.start * 4, n * 4);
  const half = new Uint16Array(n);
  encodeHalf(data.subarray(r.start, r.end), half);
  return new Uint8Array(half.buffer);
}

/** Rounds data[r] to what fp16 carries, so the sender keeps exactly what receivers get. */
export function roundToWire(data: Float32Array, r: Range, payload: Uint8Array, fp16: boolean): void {
  if (!fp16) return;
  decodeHalf(new Uint16Array(payload.buffer, payload.byteOffset, r.end - r.start), data.subarray(r.start, r.end));
}

function checkLength(r: Range, payload: Uint8Array, fp16: boolean): void {
  const want = (r.end - r.start) * wireBytes(fp16);
  if (payload.byteLength !== want) {
    throw new CollectiveError(
      `chunk of ${payload.byteLength} bytes where ${want} were expected: ranks disagree on buffer size or precision`,
    );
  }
}

function floats(payload: Uint8Array): Float32Array {
  const p = payload.byteOffset % 4 === 0 ? payload : new Uint8Array(payload); // a copy (Buffer.slice would be a view)
  return new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4);
}

function halves(payload: Uint8Array): Uint16Array {
  const p = payload.byteOffset % 2 === 0 ? payload : new Uint8Array(payload);
  return new Uint16Array(p.buffer, p.byteOffset, p.byteLength / 2);
}

/** Adds or copies a whole payload into a sink's destination. */
export function applyPayload(sink: SinkSpec, payload: Uint8Array): void {
  const r = { start: 0, end: sink.dst.length };
  if (sink.mode === 'add') addInto(sink.dst, r, payload, sink.fp16);
  else copyInto(sink.dst, r, payload, sink.fp16);
}

/** data[r] += payload */
export function addInto(data: Float32Array, r: Range, payload: Uint8Array, fp16: boolean): void {
  checkLength(r, payload, fp16);
  const dst = data.subarray(r.start, r.end);
  if (fp16) {
    addHalf(halves(payload), dst);
    return;
  }
  const src = floats(payload);
  for (let i = 0; i < src.length; i++) dst[i] += src[i];
}

/** data[r] = payload */
export function copyInto(data: Float32Array, r: Range, payload: Uint8Array, fp16: boolean): void {
  checkLength(r, payload, fp16);
  const dst = data.subarray(r.start, r.end);
  if (fp16) decodeHalf(halves(payload), dst);
  else dst.set(floats(payload));
}
