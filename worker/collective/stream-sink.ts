/**
 * Applies a message's payload to its destination while it arrives, read by read: no buffer of
 * the message's size, no second pass. Reads are rarely aligned to an element (the protocol
 * header before the payload has any length), so each read goes through a small reused
 * aligned scratch buffer, and an element split between two reads is carried over.
 */
import { halfTable } from './fp16.ts';

export interface SinkSpec {
  /** where the payload lands (a view of the caller's buffer) */
  readonly dst: Float32Array;
  readonly mode: 'add' | 'copy';
  readonly fp16: boolean;
}

export interface StreamSink {
  write(bytes: Uint8Array): void;
  end(): void;
}

const SCRATCH_BYTES = 256 * 1024;
let scratch = new Uint8Array(SCRATCH_BYTES);

export function streamSink(spec: SinkSpec, onEnd: () => void, isLive: () => boolean): StreamSink {
  const size = spec.fp16 ? 2 : 4;
  const carry = new Uint8Array(4);
  let carried = 0;
  let at = 0; // next element of dst
  const table = spec.fp16 ? halfTable() : undefined;

  const apply = (aligned: Uint8Array): void => {
    const n = aligned.byteLength / size;
    const dst = spec.dst;
    if (table) {
      const h = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
      if (spec.mode === 'add') for (let i = 0; i < n; i++) dst[at + i] += table[h[i]];
      else for (let i = 0; i < n; i++) dst[at + i] = table[h[i]];
    } else {
      const f = new Float32Array(aligned.buffer, aligned.byteOffset, n);
      if (spec.mode === 'add') for (let i = 0; i < n; i++) dst[at + i] += f[i];
      else dst.set(f, at);
    }
    at += n;
  };

  return {
    write(bytes: Uint8Array): void {
      if (!isLive()) return; // the operation ended (timeout, abort): leave the caller's memory alone
      let i = 0;
      if (carried) {
        const k = Math.min(size - carried, bytes.byteLength);
        carry.set(bytes.subarray(0, k), carried);
        carried += k;
        i = k;
        if (carried < size) return;
        apply(carry.subarray(0, size));
        carried = 0;
      }
      const whole = Math.floor((bytes.byteLength - i) / size) * size;
      if (whole) {
        const body = bytes.subarray(i, i + whole);
        if (body.byteOffset % size === 0) apply(body);
        else {
          for (let off = 0; off < whole; off += SCRATCH_BYTES) {
            const part = body.subarray(off, Math.min(whole, off + SCRATCH_BYTES));
            if (scratch.byteLength < part.byteLength) scratch = new Uint8Array(part.byteLength);
            scratch.set(part);
            apply(scratch.subarray(0, part.byteLength));
          }
        }
        i += whole;
      }
      if (i < bytes.byteLength) {
        carry.set(bytes.subarray(i), 0);
        carried = bytes.byteLength - i;
      }
    },
    end(): void {
      if (isLive()) onEnd();
    },
  };
}
