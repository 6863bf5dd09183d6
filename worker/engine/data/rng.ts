/**
 * A small seeded PRNG (xoshiro128**) whose whole state is four uint32 words, so a checkpoint can
 * save and restore it exactly. Seeds are expanded with splitmix32, and `deriveRng` mixes extra
 * keys (epoch, sample position) into a seed so that a sample's randomness does not depend on
 * which rank draws it or on how many samples were drawn before it.
 */

/** The four 32-bit words of a xoshiro128** state. */
export type RngState = readonly [number, number, number, number];

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hashes a seed and any number of integer keys into one uint32. */
export function mixSeed(seed: number, ...keys: number[]): number {
  let h = splitmix32(seed >>> 0);
  for (const k of keys) h = splitmix32((h ^ Math.imul(k >>> 0, 0x27d4eb2f)) + (Math.floor(k / 0x100000000) | 0));
  return h;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** @param seed any integer; equal seeds give equal streams. */
  constructor(seed = 0) {
    let x = seed >>> 0;
    this.s0 = x = splitmix32(x);
    this.s1 = x = splitmix32(x);
    this.s2 = x = splitmix32(x);
    this.s3 = splitmix32(x);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Rebuilds a generator from a saved state. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  setState(state: RngState): void {
    if (state.length !== 4 || state.every((w) => w >>> 0 === 0)) throw new Error('Rng.setState: need four uint32 words, not all zero');
    [this.s0, this.s1, this.s2, this.s3] = state.map((w) => w >>> 0) as [number, number, number, number];
  }

  /** Next uint32. */
  nextU32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  random(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [a, b). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.random();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** A Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  /** Gamma(k, 1) for k >= 1 (Marsaglia–Tsang); used for Beta draws in mixup. */
  gamma(k: number): number {
    const d = k - 1 / 3,
      c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.random();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }

  /** Beta(a, b) for a, b >= 1. */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    return x / (x + this.gamma(b));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A generator for one keyed stream: same (seed, keys) → same stream, on any rank. */
export function deriveRng(seed: number, ...keys: number[]): Rng {
  return new Rng(mixSeed(seed, ...keys));
}
