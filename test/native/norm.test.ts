import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { compare, rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const { reg } = s;
  for (const shape of [
    [4, 6, 6, 8],
    [10, 3],
    [2, 20, 20, 16],
  ]) {
    const c = shape[shape.length - 1];
    const x = rand(shape, -3, 3);
    const mean = rand([c]),
      variance = rand([c], 0.1, 2),
      offset = rand([c]),
      scale = rand([c], 0.5, 1.5);
    compare(t, reg, 'FusedBatchNorm', `batchNorm [${shape}]`, () => tf.batchNorm(x, mean, variance, offset, scale, 1e-3));
    compare(t, reg, 'FusedBatchNorm', `batchNorm [${shape}] no offset/scale`, () => tf.batchNorm(x, mean, variance));
    compare(t, reg, 'FusedBatchNorm', `batchNorm [${shape}] scalar parameters`, () =>
      tf.batchNorm(x, tf.scalar(0.3), tf.scalar(0.7), tf.scalar(-0.2), tf.scalar(1.2), 1e-5),
    );
  }
  // Train-mode BN as a model writes it (moments + arithmetic), forward and backward.
  const x = rand([4, 8, 8, 16]);
  const gamma = rand([16], 0.5, 1.5),
    beta = rand([16]);
  compare(t, reg, 'Mean', 'train-mode BN + SiLU gradient', () =>
    tf.grads((v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(v, [0, 1, 2]);
      const y = v.sub(mean).div(variance.add(1e-3).sqrt()).mul(g).add(b);
      return y.mul(tf.sigmoid(y)).square().sum();
    })([x, gamma, beta]),
  );
}
