/** One image through the model as detect.py runs it: letterbox (auto), forward, NMS, boxes back to the image. */
import * as tf from '@tensorflow/tfjs';
import { nonMaxSuppression } from '../metrics/index.ts';
import type { RgbImage } from '../data/index.ts';
import type { YoloModel } from '../model/index.ts';
import { letterboxAuto, scaleBoxes } from './preprocess.ts';

/** detect.py's thresholds; defaults as its flags. */
export interface PredictOptions {
  /** inference size (long side), rounded up to a multiple of the stride; default 640 */
  readonly img?: number;
  /** default 0.25 */
  readonly confThres?: number;
  /** default 0.45 */
  readonly iouThres?: number;
  /** default 1000 */
  readonly maxDet?: number;
  /** keep only these classes; default all */
  readonly classes?: readonly number[];
}

/** One detection in original-image pixels. */
export interface Detection {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  conf: number;
  cls: number;
}

/** detect.py's check_img_size: `img` rounded up to a multiple of `stride`. */
export function checkImgSize(img: number, stride: number): number {
  return Math.max(Math.ceil(img / stride) * stride, stride);
}

/** Detections on `im` (descending confidence) and the letterboxed input shape [h, w]. */
export function predict(model: YoloModel, im: RgbImage, o: PredictOptions = {}): { detections: Detection[]; inputShape: [number, number] } {
  const stride = Math.max(...model.strides);
  const inp = letterboxAuto(im, checkImgSize(o.img ?? 640, stride), stride);
  const { width, height, data } = inp.image;
  const pred = tf.tidy(() => {
    const x = tf.div(tf.tensor4d(data, [1, height, width, 3], 'int32').toFloat(), 255) as tf.Tensor4D;
    return model.decode(model.forward(x, { training: false }));
  });
  let det: Float32Array;
  try {
    // detect.py: one label per box (multi_label=False), class-aware
    [det] = nonMaxSuppression(pred, {
      confThres: o.confThres ?? 0.25,
      iouThres: o.iouThres ?? 0.45,
      maxDet: o.maxDet ?? 1000,
      multiLabel: false,
      ...(o.classes ? { classes: o.classes } : {}),
    });
  } finally {
    pred.dispose();
  }
  scaleBoxes(det, inp, im.width, im.height);
  const detections: Detection[] = [];
  for (let i = 0; i + 5 < det.length; i += 6)
    detections.push({ x1: det[i], y1: det[i + 1], x2: det[i + 2], y2: det[i + 3], conf: det[i + 4], cls: det[i + 5] });
  return { detections, inputShape: [height, width] };
}
