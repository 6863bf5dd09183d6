import { flatMath } from '../../native/index.ts';

/** clip_grad_norm_: scale all gradients together so that their global L2 norm is at most maxNorm. */

/** Returns the norm before clipping; scales `grads` in place when it exceeds maxNorm. */
export function clipGradNorm(grads: Float32Array, maxNorm: number): number {
  const norm = Math.sqrt(flatMath().sumSquares(grads));
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    flatMath().scale(grads, coef);
  }
  return norm;
}
