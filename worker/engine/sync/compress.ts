/**
 * Low-bit payloads of a float32 vector and their exact decoders:
 *   bf16  the upper half of each float32, rounded to nearest even (relative error <= 2^-8)
 *   int8  one float32 scale per INT8_CHUNK values (max |x| / 127) and round(x / scale) per value
 *         (absolute error <= scale / 2 = max |x| of the chunk / 254)
 * A payload is a byte string padded to a multiple of 4, so it travels as a Float32Array view
 * (typed-array copies of one type keep bit patterns, NaN payloads included). Decoding is a pure
 * function of the bytes, so every rank that decodes the same payloads gets the same floats.
 */
export type Codec = 'bf16' | 'int8';

/** values per int8 scale */
export const INT8_CHUNK = 256;

const pad4 = (n: number): number => (n + 3) & ~3;

/** Payload size in bytes for `n` values. */
export function payloadBytes(codec: Codec, n: number): number {
  if (codec === 'bf16') return pad4(2 * n);
  return pad4(4 * Math.ceil(n / INT8_CHUNK) + n);
}

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);

/** float32 bits → bf16 bits, round to nearest even; NaN stays a (quiet) NaN. */
function toBf16(b: number): number {
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Encodes `src` into a fresh payload. */
export function encode(codec: Codec, src: Float32Array): Uint8Array {
  const out = new Uint8Array(payloadBytes(codec, src.length));
  if (codec === 'bf16') {
    const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
    const h = new Uint16Array(out.buffer, 0, src.length);
    for (let i = 0; i < u.length; i++) h[i] = toBf16(u[i]);
    return out;
  }
  const nChunks = Math.ceil(src.length / INT8_CHUNK);
  const scales = new Float32Array(out.buffer, 0, nChunks);
  const q = new Int8Array(out.buffer, 4 * nChunks, src.length);
  for (let c = 0; c < nChunks; c++) {
    const begin = c * INT8_CHUNK,
      end = Math.min(src.length, begin + INT8_CHUNK);
    let max = 0;
    for (let i = begin; i < end; i++) {
      const a = Math.abs(src[i]);
      if (a > max) max = a;
      else if (Number.isNaN(a)) {
        max = a;
        break;
      } // a NaN scale: the chunk decodes to NaN (fit's guard sees it)
    }
    const scale = Math.fround(max / 127);
    scales[c] = scale;
    if (!(scale > 0) || !Number.isFinite(scale)) continue; // all zero (q = 0), or NaN/Inf: the scale carries it
    for (let i = begin; i < end; i++) q[i] = Math.max(-127, Math.min(127, Math.round(src[i] / scale)));
  }
  return out;
}

/** Decodes a payload of `n` values: into `dst` (mode 'copy') or added to it ('add'). */
export function decode(codec: Codec, payload: Uint8Array, dst: Float32Array, mode: 'copy' | 'add' = 'copy'): void {
  const n = dst.length;
  if (payload.byteLength < payloadBytes(codec, n)) throw new RangeError(`${codec} payload of ${payload.byteLength} bytes for ${n} values`);
  const p = payload.byteOffset % 4 === 0 ? payload : new Uint8Array(payload);
  if (codec === 'bf16') {
    const h = new Uint16Array(p.buffer, p.byteOffset, n);
    for (let i = 0; i < n; i++) {
      bits[0] = h[i] << 16;
      dst[i] = mode === 'add' ? dst[i] + asFloat[0] : asFloat[0];
    }
    return;
  }
  const nChunks = Math.ceil(n / INT8_CHUNK);
  const scales = new Float32Array(p.buffer, p.byteOffset, nChunks);
  const q = new Int8Array(p.buffer, p.byteOffset + 4 * nChunks, n);
  for (let c = 0; c < nChunks; c++) {
    const scale = scales[c];
    const begin = c * INT8_CHUNK,
      end = Math.min(n, begin + INT8_CHUNK);
    // a NaN/Inf scale marks a chunk that held one: it decodes to NaN
    const bad = !Number.isFinite(scale);
    for (let i = begin; i < end; i++) {
      const v = bad ? Number.NaN : Math.fround(q[i] * scale);
      dst[i] = mode === 'add' ? dst[i] + v : v;
    }
  }
}

/** The payload as float32 words (what the collective carries); no copy. */
export function asWords(payload: Uint8Array): Float32Array {
  return new Float32Array(payload.buffer, payload.byteOffset, payload.byteLength / 4);
}

/** The bytes of float32 words received from the collective; no copy. */
export function asBytes(words: Float32Array): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
}
