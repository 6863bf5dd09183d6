import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { batchNormAct, batchNormActComposed, batchNormActIsNative } from '../../worker/native/index.ts';
import { relErr, rand, setup, TOLERANCE } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  t.ok(batchNormActIsNative(), 'the fused BatchNorm + activation kernel is registered');
  // Fused native kernel against the same computation composed from tfjs ops (JS kernels).
  for (const [shape, act] of [
    [[4, 6, 6, 8], 'silu'],
    [[2, 10, 10, 16], 'linear'],
    [[3, 5, 7, 3], 'silu'],
    [[64, 32], 'silu'],
  ] as const) {
    const x = rand([...shape], -2, 3);
    const c = shape[shape.length - 1];
    const gamma = rand([c], 0.5, 1.5) as tf.Tensor1D,
      beta = rand([c], -0.5, 0.5) as tf.Tensor1D;
    const dy = rand([...shape]);
    const run = (f: typeof batchNormAct) =>
      tf.tidy(() => {
        const r = f(x, gamma, beta, 1e-3, act);
        const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          f(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3, act)
            .y.mul(dy)
            .sum(),
        )([x, gamma, beta]);
        return [r.y, r.mean, r.variance, ...grads].map((v) => v.dataSync());
      });
    const native = run(batchNormAct);
    s.reg.enabled = false;
    const js = run(batchNormActComposed);
    s.reg.enabled = true;
    ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => {
      const e = relErr(native[i], js[i]);
      t.ok(e <= TOLERANCE, `[${shape}] ${act}: ${name} relative error ${e.toExponential(2)} <= ${TOLERANCE}`);
    });
  }
}
