/** Rectangular batches: one padded shape per batch from its images' aspect ratios (the reference's rect). */

/**
 * The [height, width] of a rect batch holding images of aspect ratios `ars` (height / width):
 * the long side is `img`, the short side fits the widest ratio, rounded up to a stride multiple
 * after adding `pad` strides.
 */
export function rectShape(ars: ArrayLike<number>, img: number, stride = 32, pad = 0.5): [number, number] {
  let mini = Infinity,
    maxi = -Infinity;
  for (let i = 0; i < ars.length; i++) {
    mini = Math.min(mini, ars[i]);
    maxi = Math.max(maxi, ars[i]);
  }
  let sh = 1,
    sw = 1;
  if (maxi < 1) sh = maxi;
  else if (mini > 1) sw = 1 / mini;
  return [Math.ceil((sh * img) / stride + pad) * stride, Math.ceil((sw * img) / stride + pad) * stride];
}

/** Indices sorted by aspect ratio (stable), the order rect batches are cut from. */
export function aspectOrder(ars: ArrayLike<number>): Uint32Array {
  const idx = Array.from({ length: ars.length }, (_, i) => i);
  idx.sort((a, b) => ars[a] - ars[b] || a - b);
  return Uint32Array.from(idx);
}
