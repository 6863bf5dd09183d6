/** Shared by the export tests: deterministic inputs and the tiny model with non-trivial BatchNorm statistics. */
import { buildModel, type YoloModel } from '../../worker/engine/model/index.ts';
import { tinyYaml } from './model-tiny.ts';

/** Deterministic values in [lo, hi). */
export function values(n: number, seed: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
  return out;
}

/** The tiny model with BatchNorm γ, β, running mean and variance away from their initial 1, 0, 0, 1. */
export function tinyModel(): YoloModel {
  const m = buildModel(tinyYaml(), { seed: 7 });
  const state = m.stateDict();
  let k = 1;
  for (const [name, v] of state) {
    if (name.endsWith('.running_var')) state.set(name, values(v.length, k++, 0.3, 2));
    else if (name.endsWith('.running_mean') || /\.bn\.bias$/.test(name)) state.set(name, values(v.length, k++, -0.5, 0.5));
    else if (/\.bn\.weight$/.test(name)) state.set(name, values(v.length, k++, 0.5, 1.5));
  }
  m.loadStateDict(state);
  return m;
}

/** Max absolute difference and max difference relative to max(1, |want|). */
export function diff(got: ArrayLike<number>, want: ArrayLike<number>): { maxAbs: number; maxRel: number } {
  let maxAbs = 0,
    maxRel = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(1, Math.abs(want[i])));
  }
  return { maxAbs, maxRel };
}
