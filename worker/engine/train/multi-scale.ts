/**
 * train.py --multi-scale: every batch is resized (bilinear, torch's align_corners=False) to a size
 * drawn in [0.5, 1.5]·img, a multiple of the stride. The draw is keyed by (seed, epoch, batch
 * index), so every rank of a job draws the same size for a step without a message, and a
 * resumed run draws what the uninterrupted one did.
 */
import { deriveRng } from '../data/rng.ts';
import type { TrainBatch } from './types.ts';

/** Stream key of the size draw (apart from the loader's permutation and augmentation streams). */
const MULTI_SCALE_KEY = 0x5ca1e;

/** What a multi-scale run needs: the base image size, the model's max stride and the data seed. */
export interface MultiScale {
  img: number;
  stride: number;
  seed: number;
}

/**
 * The long side of batch `index` of `epoch`: train.py's
 * `random.randrange(int(img*0.5), int(img*1.5) + gs) // gs * gs`.
 */
export function multiScaleSize(m: MultiScale, epoch: number, index: number): number {
  const lo = Math.floor(m.img * 0.5),
    hi = Math.floor(m.img * 1.5) + m.stride; // exclusive, as randrange
  const r = deriveRng(m.seed, MULTI_SCALE_KEY, epoch, index);
  const draw = lo + r.int(hi - lo);
  return Math.floor(draw / m.stride) * m.stride;
}

/** [height, width] a batch of `height`×`width` becomes at long side `size`: train.py's ceil(x·sf/gs)·gs per side. */
export function multiScaleShape(height: number, width: number, size: number, stride: number): [number, number] {
  const sf = size / Math.max(height, width);
  if (sf === 1) return [height, width];
  return [Math.ceil((height * sf) / stride) * stride, Math.ceil((width * sf) / stride) * stride];
}

/** Bilinear resize of NHWC float images (torch interpolate, align_corners=False, no antialias). */
export function resizeNhwc(src: Float32Array, b: number, h: number, w: number, oh: number, ow: number): Float32Array {
  const out = new Float32Array(b * oh * ow * 3);
  const fx = w / ow,
    fy = h / oh;
  const x0s = new Int32Array(ow),
    x1s = new Int32Array(ow),
    wx = new Float32Array(ow);
  for (let x = 0; x < ow; x++) {
    const sx = Math.max((x + 0.5) * fx - 0.5, 0);
    const x0 = Math.min(Math.floor(sx), w - 1);
    x0s[x] = x0 * 3;
    x1s[x] = Math.min(x0 + 1, w - 1) * 3;
    wx[x] = Math.min(sx - x0, 1);
  }
  let o = 0;
  for (let n = 0; n < b; n++) {
    const base = n * h * w * 3;
    for (let y = 0; y < oh; y++) {
      const sy = Math.max((y + 0.5) * fy - 0.5, 0);
      const y0 = Math.min(Math.floor(sy), h - 1);
      const y1 = Math.min(y0 + 1, h - 1);
      const wy = Math.min(sy - y0, 1);
      const r0 = base + y0 * w * 3,
        r1 = base + y1 * w * 3;
      for (let x = 0; x < ow; x++) {
        const a = x0s[x],
          c1 = x1s[x],
          t = wx[x];
        for (let c = 0; c < 3; c++) {
          const top = src[r0 + a + c] + (src[r0 + c1 + c] - src[r0 + a + c]) * t;
          const bot = src[r1 + a + c] + (src[r1 + c1 + c] - src[r1 + a + c]) * t;
          out[o++] = top + (bot - top) * wy;
        }
      }
    }
  }
  return out;
}

/** `batch` resized to its multi-scale draw; the targets are normalised, so they stay as they are. */
export function multiScaleBatch<B extends TrainBatch>(batch: B, m: MultiScale, epoch: number, index: number): B {
  const [oh, ow] = multiScaleShape(batch.height, batch.width, multiScaleSize(m, epoch, index), m.stride);
  if (oh === batch.height && ow === batch.width) return batch;
  return { ...batch, images: resizeNhwc(batch.images, batch.batchSize, batch.height, batch.width, oh, ow), height: oh, width: ow };
}
