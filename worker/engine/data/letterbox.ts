/** Letterbox: resize keeping the aspect ratio, then pad to the target shape with grey 114. */
import type { RgbImage } from './image.ts';
import { resizeBilinear } from './resize.ts';

/** The grey the reference pads with. */
export const PAD_VALUE = 114;

/** A letterboxed image: pixel (x, y) of the input lands at (x·ratio + padW, y·ratio + padH). */
export interface Letterboxed {
  image: RgbImage;
  ratio: number;
  /** horizontal padding on each side (may be fractional, as the reference reports it) */
  padW: number;
  padH: number;
  /** the integer offsets actually used for the top-left corner */
  left: number;
  top: number;
}

/**
 * Letterboxes `im` into `height × width` (the reference's letterbox with auto=false).
 * @param scaleup allow enlarging (the reference enlarges only when augmenting)
 */
export function letterbox(im: RgbImage, height: number, width: number, scaleup = true, color = PAD_VALUE): Letterboxed {
  let r = Math.min(height / im.height, width / im.width);
  if (!scaleup) r = Math.min(r, 1);
  const nw = Math.round(im.width * r),
    nh = Math.round(im.height * r);
  const dw = (width - nw) / 2,
    dh = (height - nh) / 2;
  const src = nw === im.width && nh === im.height ? im : resizeBilinear(im, nw, nh);
  const top = Math.round(dh - 0.1),
    left = Math.round(dw - 0.1);
  const out = new Uint8Array(width * height * 3);
  out.fill(color);
  const rowBytes = nw * 3;
  for (let y = 0; y < nh; y++) {
    const o = ((y + top) * width + left) * 3;
    out.set(src.data.subarray(y * rowBytes, (y + 1) * rowBytes), o);
  }
  return { image: { data: out, width, height }, ratio: r, padW: dw, padH: dh, left, top };
}
