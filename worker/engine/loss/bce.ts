/** Binary cross-entropy on logits, optionally positive-weighted and focal. */
import * as tf from '@tensorflow/tfjs';

/** Options of {@link bceWithLogits}. */
export interface BceOptions {
  /** weight of the positive term (hyp.cls_pw / hyp.obj_pw); default 1 */
  readonly posWeight?: number;
  /** focal-loss gamma (hyp.fl_gamma); 0 (default) is plain BCE */
  readonly focalGamma?: number;
  /** focal-loss alpha; default 0.25 */
  readonly focalAlpha?: number;
}

/**
 * Mean over all elements of BCE(sigmoid(x), t), computed stably from the logits:
 * (1 − t)·x + (1 + (pw − 1)·t)·softplus(−x). With focalGamma > 0 each element is scaled by
 * (t·α + (1−t)(1−α))·(1 − p_t)^γ, p_t = t·σ(x) + (1−t)(1−σ(x)).
 */
export function bceWithLogits(logits: tf.Tensor, target: tf.Tensor, opts: BceOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const pw = opts.posWeight ?? 1;
    const gamma = opts.focalGamma ?? 0;
    let loss: tf.Tensor =
      pw === 1
        ? tf.softplus(logits).sub(target.mul(logits))
        : tf
            .sub(1, target)
            .mul(logits)
            .add(
              target
                .mul(pw - 1)
                .add(1)
                .mul(tf.softplus(tf.neg(logits))),
            );
    if (gamma > 0) {
      const alpha = opts.focalAlpha ?? 0.25;
      const p = tf.sigmoid(logits);
      const pt = target.mul(p).add(tf.sub(1, target).mul(tf.sub(1, p)));
      const alphaFactor = target.mul(alpha).add(tf.sub(1, target).mul(1 - alpha));
      loss = loss.mul(alphaFactor).mul(tf.pow(tf.sub(1, pt), gamma));
    }
    return tf.mean(loss) as tf.Scalar;
  });
}
