/** Row gather whose gradient is a scatter-add. */
import * as tf from '@tensorflow/tfjs';

/**
 * x[idx] for a [m, k] tensor and row indices (repeats allowed). The stock gather gradient
 * (unsortedSegmentSum) costs one pass over all rows per segment on the cpu backend, which
 * is hopeless for m in the tens of thousands; here the gradient is one scatterND, which sums
 * repeated rows.
 */
export function gatherRows(x: tf.Tensor2D, idx: Int32Array): tf.Tensor2D {
  const shape = x.shape.slice() as [number, number];
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.gather(args[0] as tf.Tensor2D, tf.tensor1d(idx, 'int32')),
    gradFunc: (dy: tf.Tensor) => tf.scatterND(tf.tensor2d(idx, [idx.length, 1], 'int32'), dy, shape),
  }));
  return f(x) as tf.Tensor2D;
}
