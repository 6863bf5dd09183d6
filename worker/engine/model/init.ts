/**
 * Deterministic parameter initialisation. PyTorch's default for `nn.Conv2d` is
 * `kaiming_uniform_(a=√5)`, i.e. U(−1/√fan_in, 1/√fan_in) for the weight, and the same bound
 * for the bias; the generator here is seeded so a model built twice with one seed is identical
 * (the numbers differ from PyTorch's, whose generator is not reproduced).
 */

/** A seeded uniform generator on [0, 1) (mulberry32; fast and good enough for initialisation). */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    // mix the seed so that 0, 1, 2 … give unrelated streams
    let s = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    this.state = (s ^ (s >>> 16)) >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** `n` values from U(−bound, bound). */
export function uniform(rng: SeededRandom, n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * bound;
  return out;
}

/** PyTorch's Conv2d bound for weight and bias: 1/√fan_in, fan_in = c_in/groups · kh · kw. */
export function convInitBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}
