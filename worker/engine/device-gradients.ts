/**
 * Gradients of tfjs ops rewritten so that backprop makes nothing from host memory. tfjs's own
 * Mean gradient multiplies dy by `ones(x.shape)`, an array of x's size filled on the host and
 * uploaded (one per mean in the loss, every step); here the ones are made by the Fill kernel on
 * the backend. The arithmetic is the same (dy·1/n), so the values are bit-identical.
 */
import * as tf from '@tensorflow/tfjs';

let installed = false;

/** Replaces the gradients above (once per process; later calls do nothing). */
export function installDeviceGradients(): void {
  if (installed) return;
  installed = true;
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] | null }).axis as number[], x.shape);
      let reduceSize = 1;
      for (const a of axes) reduceSize *= x.shape[a];
      return {
        x: () => {
          const expanded = x.shape.slice();
          for (const a of axes) expanded[a] = 1;
          const d = tf.reshape(dy as tf.Tensor, expanded);
          return tf.div(tf.mul(d, tf.fill(x.shape, 1, 'float32')), reduceSize);
        },
      };
    },
  });
}
