/**
 * The optimizer's loops over the flat parameter vector: accumulate, clip, Nesterov SGD, EMA.
 * Every operation is rounded to float32 in a fixed order, as PyTorch's float32 kernels do, so
 * the native loops (src/flat.cc, no FMA contraction) and these JavaScript ones give
 * bit-identical results and a run is reproducible whichever is used. The native ones are
 * taken when the addon is built; they are ~10x faster on YOLOv5n's 1.9M parameters.
 */
import { loadAddon, type NativeAddon } from './addon.ts';

/** The five loops; `flatMath()` returns the native set when available. */
export interface FlatMath {
  readonly native: boolean;
  /** acc += g */
  accumulate(acc: Float32Array, g: Float32Array): void;
  /** Σ g², summed in float64 in index order */
  sumSquares(g: Float32Array): number;
  /** g *= c (c rounded to float32) */
  scale(g: Float32Array, c: number): void;
  /**
   * On [begin, end): g ← g + wd·p; v ← first ? g : μ·v + g; p ← p − lr·(g + μ·v).
   * Every scalar is rounded to float32 first.
   */
  nesterov(
    p: Float32Array,
    g: Float32Array,
    v: Float32Array,
    begin: number,
    end: number,
    lr: number,
    wd: number,
    mu: number,
    first: boolean,
  ): void;
  /** e ← e·d + od·m */
  ema(e: Float32Array, m: Float32Array, d: number, od: number): void;
}

const f32 = Math.fround;

export const jsFlatMath: FlatMath = {
  native: false,
  accumulate(acc, g) {
    const n = Math.min(acc.length, g.length);
    for (let i = 0; i < n; i++) acc[i] = f32(acc[i] + g[i]);
  },
  sumSquares(g) {
    let sq = 0;
    for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
    return sq;
  },
  scale(g, c) {
    const cf = f32(c);
    for (let i = 0; i < g.length; i++) g[i] = f32(g[i] * cf);
  },
  nesterov(p, g, v, begin, end, lr, wd, mu, first) {
    const lrf = f32(lr),
      wdf = f32(wd),
      muf = f32(mu);
    for (let i = begin; i < end; i++) {
      const pi = p[i];
      let gi = g[i];
      if (wdf !== 0) gi = f32(gi + f32(wdf * pi));
      const vi = first ? gi : f32(f32(muf * v[i]) + gi);
      v[i] = vi;
      const d = f32(gi + f32(muf * vi));
      p[i] = f32(pi - f32(lrf * d));
    }
  },
  ema(e, m, d, od) {
    const df = f32(d),
      odf = f32(od);
    const n = Math.min(e.length, m.length);
    for (let i = 0; i < n; i++) e[i] = f32(f32(e[i] * df) + f32(odf * m[i]));
  },
};

function nativeFlatMath(a: NativeAddon): FlatMath {
  return {
    native: true,
    accumulate: (acc, g) => a.flatAccumulate(acc, g),
    sumSquares: (g) => a.flatSumSquares(g),
    scale: (g, c) => a.flatScale(g, c),
    // the addon checks the range against all three vectors and throws a RangeError
    nesterov: (p, g, v, begin, end, lr, wd, mu, first) => a.flatNesterov(p, g, v, begin, end, lr, wd, mu, first),
    ema: (e, m, d, od) => a.flatEma(e, m, d, od),
  };
}

let chosen: FlatMath | undefined;

/** The native loops when the addon loads (and FLOTILLA_FLAT_JS is not 1), else the JavaScript ones. */
export function flatMath(): FlatMath {
  if (chosen) return chosen;
  const load = process.env.FLOTILLA_FLAT_JS === '1' ? null : loadAddon();
  chosen = load?.ok && typeof load.addon.flatNesterov === 'function' ? nativeFlatMath(load.addon) : jsFlatMath;
  return chosen;
}
