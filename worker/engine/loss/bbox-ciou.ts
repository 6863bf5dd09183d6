/** Complete-IoU of paired boxes as a differentiable tensor op. */
import * as tf from '@tensorflow/tfjs';

const EPS = 1e-7;

/**
 * Holds a value constant for differentiation: forward is the identity, backward is zero.
 * The ops inside a customGrad forward are not recorded, so nothing behind the barrier needs
 * a gradient function.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return detached(x, (v) => tf.clone(v)) as T;
}

/**
 * Applies fn to x with no gradient flowing back to x. Everything fn does, including ops that
 * have no gradient function (scatterND), stays behind the barrier.
 */
export function detached(x: tf.Tensor, fn: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
  const shape = x.shape.slice();
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: fn(args[0] as tf.Tensor),
    gradFunc: () => tf.fill(shape, 0, 'float32'), // made on the backend, not uploaded
  }));
  return f(x);
}

/**
 * CIoU of box1[k] with box2[k]; both [n, 4] as [xc, yc, w, h] (any unit).
 *
 * CIoU = IoU − ρ²/c² − α·v with v = (4/π²)(atan(w2/h2) − atan(w1/h1))² and
 * α = v / (v − IoU + 1 + eps); α is a constant for the gradient, as in the reference.
 * eps = 1e-7 is added to the union and to c². Returns [n].
 */
export function bboxCiou(box1: tf.Tensor2D, box2: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const [x1, y1, w1, h1] = tf.unstack(box1, 1) as tf.Tensor1D[];
    const [x2, y2, w2, h2] = tf.unstack(box2, 1) as tf.Tensor1D[];
    const w1h = w1.div(2),
      h1h = h1.div(2),
      w2h = w2.div(2),
      h2h = h2.div(2);
    const b1x1 = x1.sub(w1h),
      b1x2 = x1.add(w1h),
      b1y1 = y1.sub(h1h),
      b1y2 = y1.add(h1h);
    const b2x1 = x2.sub(w2h),
      b2x2 = x2.add(w2h),
      b2y1 = y2.sub(h2h),
      b2y2 = y2.add(h2h);
    const iw = tf.relu(tf.minimum(b1x2, b2x2).sub(tf.maximum(b1x1, b2x1)));
    const ih = tf.relu(tf.minimum(b1y2, b2y2).sub(tf.maximum(b1y1, b2y1)));
    const inter = iw.mul(ih);
    const union = w1.mul(h1).add(w2.mul(h2)).sub(inter).add(EPS);
    const iou = inter.div(union);
    const cw = tf.maximum(b1x2, b2x2).sub(tf.minimum(b1x1, b2x1));
    const ch = tf.maximum(b1y2, b2y2).sub(tf.minimum(b1y1, b2y1));
    const c2 = cw.square().add(ch.square()).add(EPS);
    const dx = b2x1.add(b2x2).sub(b1x1).sub(b1x2);
    const dy = b2y1.add(b2y2).sub(b1y1).sub(b1y2);
    const rho2 = dx.square().add(dy.square()).div(4);
    const v = tf
      .atan(w2.div(h2))
      .sub(tf.atan(w1.div(h1)))
      .square()
      .mul(4 / (Math.PI * Math.PI));
    const alpha = stopGradient(v.div(v.sub(iou).add(1 + EPS)));
    return iou.sub(rho2.div(c2).add(v.mul(alpha))) as tf.Tensor1D;
  });
}
