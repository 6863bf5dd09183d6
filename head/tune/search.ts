/**
 * The search methods, pure and seeded (docs/tune.md). `evolve` is YOLOv5 train.py's
 * hyperparameter evolution: the first trial trains the base hyperparameters; every later one
 * takes a parent from the best min(5, n) results so far, chosen at random with weights
 * fitness - min + 1e-6 ('single' selection), multiplies each gene by
 * v = clip(gain * [u < 0.8] * N(0,1) * r * 0.2 + 1, 0.3, 3.0) (drawn again until some v != 1),
 * clips to the bounds and rounds to 5 decimals. Trials run in parallel: one sampled before any
 * result exists takes the base as its parent. `random` draws every key uniformly in its bounds.
 */
import { fitness as trainFitness } from '../../worker/engine/train/early-stop.ts';
import type { Rand } from './rand.ts';

export const MUTATION_PROBABILITY = 0.8;
export const SIGMA = 0.2;
export const PARENTS = 5;

export interface Gene {
  key: string;
  gain: number;
  lower: number;
  upper: number;
}
export type Point = Record<string, number>;
export interface Result {
  hyp: Point;
  fitness: number;
}

/** train.py's fitness of a trial's final metrics: the engine's own (best.ckpt and --patience use it). */
export function fitness(m: { precision: number; recall: number; map50: number; map: number }): number {
  return trainFitness({ mp: m.precision, mr: m.recall, map50: m.map50, map: m.map });
}

/** Clipped to every gene's bounds and rounded to 5 decimals (train.py's "constrain to limits"). */
export function constrain(p: Point, genes: readonly Gene[]): Point {
  const out: Point = { ...p };
  for (const g of genes) out[g.key] = Number(Math.min(Math.max(out[g.key], g.lower), g.upper).toFixed(5));
  return out;
}

/** The parent of a mutation: one of the best min(5, n) results, weighted by fitness. */
export function selectParent(results: readonly Result[], rand: Rand): Point {
  const top = [...results].sort((a, b) => b.fitness - a.fitness).slice(0, PARENTS);
  const min = Math.min(...top.map((r) => r.fitness));
  const w = top.map((r) => r.fitness - min + 1e-6);
  let x = rand.uniform() * w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < top.length; i++) {
    x -= w[i];
    if (x < 0) return top[i].hyp;
  }
  return top[top.length - 1].hyp;
}

/**
 * The multipliers of one mutation, in train.py's order of draws: a uniform per gene (mutate
 * or not), a normal per gene, one uniform scale; again while every multiplier is 1.
 */
export function mutationFactors(gains: readonly number[], rand: Rand): number[] {
  if (!gains.some((g) => g !== 0)) return gains.map(() => 1);
  for (;;) {
    const hit = gains.map(() => rand.uniform() < MUTATION_PROBABILITY);
    const n = gains.map(() => rand.normal());
    const r = rand.uniform();
    const v = gains.map((g, i) => Math.min(Math.max(g * (hit[i] ? 1 : 0) * n[i] * r * SIGMA + 1, 0.3), 3.0));
    if (v.some((x) => x !== 1)) return v;
  }
}

export function mutate(parent: Point, genes: readonly Gene[], rand: Rand): Point {
  const v = mutationFactors(
    genes.map((g) => g.gain),
    rand,
  );
  const out: Point = { ...parent };
  genes.forEach((g, i) => {
    out[g.key] = parent[g.key] * v[i];
  });
  return constrain(out, genes);
}

/** Trial `n` of an evolve study: the base first, then a mutation of a selected parent. */
export function evolveNext(n: number, base: Point, results: readonly Result[], genes: readonly Gene[], rand: Rand): Point {
  if (n === 0) return constrain(base, genes);
  const parent = results.length ? selectParent(results, rand) : constrain(base, genes);
  return mutate(parent, genes, rand);
}

export function randomNext(genes: readonly Gene[], rand: Rand): Point {
  const out: Point = {};
  for (const g of genes) out[g.key] = Number((g.lower + rand.uniform() * (g.upper - g.lower)).toFixed(5));
  return constrain(out, genes);
}
