/**
 * A seeded, counter-based generator (SplitMix32-style mixing): the whole state is
 * `{ seed, counter }`, so it can be checkpointed and every rank can rebuild any rank's stream.
 */
export interface RngState {
  seed: number;
  counter: number;
}

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

export class Rng {
  seed: number;
  counter: number;
  constructor(state: RngState) {
    this.seed = state.seed >>> 0;
    this.counter = state.counter;
  }

  /** A stream for one purpose (e.g. rank r's sampling), independent of the others. */
  static derive(seed: number, ...keys: number[]): Rng {
    let s = mix(seed >>> 0);
    for (const k of keys) s = mix(s ^ mix(k + 0x9e3779b9));
    return new Rng({ seed: s, counter: 0 });
  }

  state(): RngState {
    return { seed: this.seed, counter: this.counter };
  }

  /** uniform in [0, 1) */
  next(): number {
    const v = mix(((this.seed + Math.imul(this.counter, 0x9e3779b9)) >>> 0) ^ mix(this.counter));
    this.counter++;
    return v / 4294967296;
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** standard normal (Box-Muller) */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
