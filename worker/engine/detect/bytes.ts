/**
 * Detection on an image held in memory (the REST endpoint's upload): the same predict() as
 * `flotilla detect`, with the image's size checked from its header before it is decoded.
 */
import sharp from 'sharp';
import { decodeImage } from '../data/index.ts';
import type { YoloModel } from '../model/index.ts';
import { predict, type PredictOptions } from './predict.ts';

/** A refusal of the input itself (not an image, too large): the caller's fault, not ours. */
export class DetectInputError extends Error {
  override name = 'DetectInputError';
}

export interface BytesResult {
  width: number;
  height: number;
  inputShape: [number, number];
  detections: { xyxy: [number, number, number, number]; conf: number; cls: number; name: string }[];
  ms: number;
}

/** Runs `model` on the encoded image `bytes`; refuses images of more than `maxPixels` pixels before decoding them. */
export async function detectBytes(
  model: YoloModel,
  names: readonly string[],
  bytes: Buffer,
  o: PredictOptions & { maxPixels: number },
): Promise<BytesResult> {
  let meta;
  try {
    meta = await sharp(bytes).metadata();
  } catch (e) {
    throw new DetectInputError(`image: not a decodable image (${(e as Error).message})`);
  }
  const w = meta.width ?? 0,
    h = meta.height ?? 0;
  if (!w || !h) throw new DetectInputError('image: has no size');
  if (w * h > o.maxPixels) throw new DetectInputError(`image: ${w}×${h} is more than ${o.maxPixels} pixels`);
  let im;
  try {
    im = await decodeImage(bytes);
  } catch (e) {
    throw new DetectInputError((e as Error).message);
  }
  const t0 = performance.now();
  const { detections, inputShape } = predict(model, im, o);
  const ms = performance.now() - t0;
  return {
    width: im.width,
    height: im.height,
    inputShape,
    ms,
    detections: detections.map((d) => ({
      xyxy: [d.x1, d.y1, d.x2, d.y2],
      conf: d.conf,
      cls: d.cls,
      name: names[d.cls] ?? `class${d.cls}`,
    })),
  };
}
