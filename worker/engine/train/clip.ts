/** clip_grad_norm_: scale all gradients together so that their global L2 norm is at most maxNorm. */

/** Returns the norm before clipping; scales `grads` in place when it exceeds maxNorm. */
export function clipGradNorm(grads: Float32Array, maxNorm: number): number {
  let sq = 0;
  for (let i = 0; i < grads.length; i++) sq += grads[i] * grads[i];
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    const c = Math.fround(coef);
    for (let i = 0; i < grads.length; i++) grads[i] = Math.fround(grads[i] * c);
  }
  return norm;
}
