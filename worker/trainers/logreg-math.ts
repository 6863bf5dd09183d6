/**
 * Logistic regression pieces: a generated, linearly separable-ish dataset, and the summed
 * gradient and loss of a batch (sums, not means, so ranks can add them up with an allreduce).
 */
import { Rng } from './rng.ts';

export interface Dataset {
  features: number;
  /** row-major, n x features */
  x: Float32Array;
  /** labels in {0, 1} */
  y: Float32Array;
  n: number;
}

/** `n` examples labelled by a hidden weight vector (plus a little label noise), from `seed`. */
export function generateDataset(seed: number, n: number, features: number): Dataset {
  const rng = Rng.derive(seed, 1);
  const wTrue = Array.from({ length: features }, () => rng.normal());
  const bTrue = rng.normal() * 0.5;
  const x = new Float32Array(n * features);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let z = bTrue;
    for (let j = 0; j < features; j++) {
      const v = rng.normal();
      x[i * features + j] = v;
      z += wTrue[j] * v;
    }
    const p = 1 / (1 + Math.exp(-3 * z));
    y[i] = rng.next() < p ? 1 : 0;
  }
  return { features, x, y, n };
}

/**
 * Rank `rank`'s rows of the global batch of step `step`: `global` rows drawn from the whole
 * dataset by a stream of (seed, step) alone, dealt round-robin over `worldSize` ranks, so the
 * batch is the same for every world size and only its split follows the gang.
 */
export function batchRows(seed: number, step: number, n: number, global: number, rank: number, worldSize: number): number[] {
  const rng = Rng.derive(seed, step);
  const rows: number[] = [];
  for (let i = 0; i < global; i++) {
    const row = rng.int(n);
    if (i % worldSize === rank) rows.push(row);
  }
  return rows;
}

/**
 * Sums over `rows` into `out` = [dL/dw (features), dL/db, loss sum, count], where L is the
 * binary cross-entropy and the model is p = sigmoid(w.x + b). `params` = [w..., b].
 */
export function gradientSums(d: Dataset, params: Float32Array, rows: readonly number[], out: Float32Array): void {
  const f = d.features;
  out.fill(0);
  let loss = 0;
  const g = new Float64Array(f + 1);
  for (const i of rows) {
    let z = params[f];
    for (let j = 0; j < f; j++) z += params[j] * d.x[i * f + j];
    const p = 1 / (1 + Math.exp(-z));
    const err = p - d.y[i];
    for (let j = 0; j < f; j++) g[j] += err * d.x[i * f + j];
    g[f] += err;
    // log(1 + e^z) - y z, stable for large |z|
    loss += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - d.y[i] * z;
  }
  for (let j = 0; j <= f; j++) out[j] = g[j];
  out[f + 1] = loss;
  out[f + 2] = rows.length;
}
