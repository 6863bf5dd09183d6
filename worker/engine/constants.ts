/**
 * Float32 scalar tensors made once per value and kept: the fixed constants of the training
 * step (BatchNorm momentum, its n/(n−1) correction) are uploaded on first use and live on the
 * backend from then on, instead of being made from a JS number on every call. Only for values
 * of which a run meets few (not per-step learning rates: those travel in the step's upload).
 */
import * as tf from '@tensorflow/tfjs';

const cache = new Map<number, tf.Scalar>();

/** The kept float32 scalar holding `value` (rounded to float32, as tf.scalar rounds it). */
export function constant(value: number): tf.Scalar {
  let s = cache.get(value);
  if (s === undefined || s.isDisposed) {
    s = tf.keep(tf.scalar(value, 'float32'));
    cache.set(value, s);
  }
  return s;
}
