/**
 * IEEE 754 binary16 on the wire: float32 → float16 with round-to-nearest-even (overflow to ±Inf,
 * NaN kept), and float16 → float32 through a 64 Ki-entry table (exact: every half is a float).
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let table: Float32Array | undefined;

function halfToFloatSlow(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** float16 bits → float32 value, for all 65536 halves. */
export function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToFloatSlow(h);
  }
  return table;
}

/** One float32 value as half bits. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  return bitsToHalf(u32[0]);
}

function bitsToHalf(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflow to ±0
    man |= 0x800000;
    const shift = 14 - e; // 14..24
    const half = man >>> shift;
    const rem = man & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rem > mid || (rem === mid && half & 1) ? half + 1 : half);
  }
  const half = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  // carry out of the mantissa correctly bumps the exponent (and may reach Inf)
  return sign | (rem > 0x1000 || (rem === 0x1000 && half & 1) ? half + 1 : half);
}

/** Encodes `src` as float16 into `dst` (same length). */
export function encodeHalf(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = bitsToHalf(bits[i]);
}

/** Decodes float16 `src` into `dst` (same length). */
export function decodeHalf(src: Uint16Array, dst: Float32Array): void {
  const t = halfTable();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]];
}

/** Adds decoded float16 `src` into `dst` element-wise. */
export function addHalf(src: Uint16Array, dst: Float32Array): void {
  const t = halfTable();
  for (let i = 0; i < src.length; i++) dst[i] += t[src[i]];
}
