/** Row gather whose gradient is a scatter-add. */
import * as tf from '@tensorflow/tfjs';

/**
 * x[idx] for a [m, k] tensor and row indices (repeats allowed; an Int32Array is uploaded, an
 * int32 tensor used as it is). The stock gather gradient (unsortedSegmentSum) costs one pass
 * over all rows per segment on the cpu backend, which is hopeless for m in the tens of
 * thousands; here the gradient is one scatterND, which sums repeated rows.
 */
export function gatherRows(x: tf.Tensor2D, idx: Int32Array | tf.Tensor1D): tf.Tensor2D {
  const shape = x.shape.slice() as [number, number];
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const it = idx instanceof Int32Array ? tf.tensor1d(idx, 'int32') : idx;
    (args[1] as tf.GradSaveFunc)([it]);
    return {
      value: tf.gather(args[0] as tf.Tensor2D, it),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.scatterND(tf.reshape(saved[0], [saved[0].size, 1]), dy as tf.Tensor, shape),
    };
  });
  return f(x) as tf.Tensor2D;
}
