/**
 * detect.py's input: letterbox with auto=True (the long side scaled to `img`, the other padded
 * only up to a multiple of the stride, grey 114), and scale_boxes back to the original image.
 */
import { PAD_VALUE, resizeBilinear, type RgbImage } from '../data/index.ts';

/** A letterboxed image and how it maps back: original = (letterboxed − pad) / gain. */
export interface DetectInput {
  image: RgbImage;
  gain: number;
  /** fractional padding as scale_boxes computes it from the shapes */
  padX: number;
  padY: number;
}

/** Letterboxes `im` so its long side is `img` and each side a multiple of `stride` (minimum rectangle). */
export function letterboxAuto(im: RgbImage, img: number, stride: number): DetectInput {
  const r = Math.min(img / im.height, img / im.width);
  const nw = Math.round(im.width * r),
    nh = Math.round(im.height * r);
  const dw = ((img - nw) % stride) / 2,
    dh = ((img - nh) % stride) / 2;
  const width = nw + 2 * dw,
    height = nh + 2 * dh;
  const src = nw === im.width && nh === im.height ? im : resizeBilinear(im, nw, nh);
  const top = Math.round(dh - 0.1),
    left = Math.round(dw - 0.1);
  const data = new Uint8Array(width * height * 3).fill(PAD_VALUE);
  for (let y = 0; y < nh; y++) data.set(src.data.subarray(y * nw * 3, (y + 1) * nw * 3), ((y + top) * width + left) * 3);
  // scale_boxes: gain and padding recomputed from the two shapes, as detect.py does
  const gain = Math.min(height / im.height, width / im.width);
  return { image: { data, width, height }, gain, padX: (width - im.width * gain) / 2, padY: (height - im.height * gain) / 2 };
}

/** Rows [x1, y1, x2, y2, conf, cls] from letterboxed pixels to the original image, clipped to it (in place). */
export function scaleBoxes(det: Float32Array, inp: DetectInput, width: number, height: number): Float32Array {
  for (let i = 0; i + 5 < det.length; i += 6) {
    det[i] = Math.min(Math.max((det[i] - inp.padX) / inp.gain, 0), width);
    det[i + 1] = Math.min(Math.max((det[i + 1] - inp.padY) / inp.gain, 0), height);
    det[i + 2] = Math.min(Math.max((det[i + 2] - inp.padX) / inp.gain, 0), width);
    det[i + 3] = Math.min(Math.max((det[i + 3] - inp.padY) / inp.gain, 0), height);
  }
  return det;
}
