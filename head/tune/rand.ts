/**
 * The seeded random source of the search methods: uniforms from a 32-bit mixing counter (the
 * whole state is seed and counter), normals by Box-Muller. One stream per trial
 * (`studyRand(seed, n)`), so a trial's sample depends only on the seed, its number and the
 * results the study had when it was sampled.
 */
export interface Rand {
  /** uniform in [0, 1) */
  uniform(): number;
  /** standard normal */
  normal(): number;
}

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

export function seededRand(seed: number): Rand {
  let counter = 0;
  const s = mix(seed >>> 0);
  const uniform = () => mix(((s + Math.imul(counter++, 0x9e3779b9)) >>> 0) ^ 0x5bd1e995) / 4294967296;
  return {
    uniform,
    normal() {
      const u = 1 - uniform();
      const v = uniform();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}

/** Trial n's stream of a study seeded with `seed`. */
export function studyRand(seed: number, n: number): Rand {
  return seededRand(mix(mix(seed >>> 0) ^ mix((n + 0x9e3779b9) >>> 0)));
}
