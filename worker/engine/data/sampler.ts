/**
 * Which dataset images a rank sees at each step. One permutation per epoch (seeded, identical on
 * every rank) is padded by wrap-around to a multiple of `worldSize`; at step k the ranks split the
 * global batch [k·W·b, k·W·b + W·c) into W contiguous parts of c = min(b, remaining) images, so W
 * ranks with batch b see exactly what one process with batch W·b sees.
 */
import { deriveRng } from './rng.ts';

/** Stream key of the epoch permutation (kept apart from the per-sample augmentation streams). */
const PERMUTATION_KEY = 0x5e9a11;

/** The order of dataset indices for one epoch, padded to a multiple of `worldSize`. */
export function epochOrder(n: number, worldSize: number, seed: number, epoch: number, shuffle: boolean, base?: Uint32Array): Uint32Array {
  const perm = shuffle ? deriveRng(seed, PERMUTATION_KEY, epoch).permutation(n) : (base ?? identity(n));
  const total = Math.ceil(n / worldSize) * worldSize;
  if (total === n) return perm;
  const out = new Uint32Array(total);
  for (let i = 0; i < total; i++) out[i] = perm[i % n];
  return out;
}

function identity(n: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return p;
}

/** Batches per epoch for each rank. */
export function batchesPerEpoch(n: number, worldSize: number, batchSize: number): number {
  return Math.ceil(Math.ceil(n / worldSize) / batchSize);
}

/**
 * Positions (into the epoch order) of rank `rank`'s batch `step`; a position also keys the sample's
 * augmentation randomness, so it is the same whatever the world size.
 */
export function batchPositions(n: number, worldSize: number, rank: number, batchSize: number, step: number): number[] {
  const perRank = Math.ceil(n / worldSize);
  const c = Math.min(batchSize, perRank - step * batchSize);
  if (c <= 0) throw new RangeError(`batch ${step} is past the end of the epoch (${batchesPerEpoch(n, worldSize, batchSize)} batches)`);
  const start = step * worldSize * batchSize + rank * c;
  return Array.from({ length: c }, (_, j) => start + j);
}

/**
 * The batch index at which a loader with a new world size or batch size resumes an epoch of which
 * `position` samples were consumed (rounded down: at most one global batch is replayed).
 */
export function resumeIndex(position: number, worldSize: number, batchSize: number): number {
  return Math.floor(position / (worldSize * batchSize));
}
