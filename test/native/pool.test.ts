import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { compare, rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const { reg } = s;
  // [shape, filter, stride, pad]: SPPF's 5x5/1 'same', 2x2/2, 3x3/2 'same', odd sizes.
  const cases: Array<[number[], number, number, 'same' | 'valid']> = [
    [[2, 10, 10, 8], 5, 1, 'same'],
    [[2, 12, 12, 4], 2, 2, 'valid'],
    [[3, 9, 11, 5], 3, 2, 'same'],
    [[1, 7, 7, 3], 3, 1, 'valid'],
  ];
  for (const [shape, f, st, pad] of cases) {
    const x = rand(shape);
    const label = `[${shape}] ${f}x${f}/${st} ${pad}`;
    compare(t, reg, 'MaxPool', `maxPool ${label}`, () => tf.maxPool(x as tf.Tensor4D, f, st, pad));
    const y = tf.maxPool(x as tf.Tensor4D, f, st, pad);
    const dy = rand(y.shape);
    compare(t, reg, 'MaxPoolGrad', `maxPool grad ${label}`, () =>
      tf.grad((v: tf.Tensor) =>
        tf
          .maxPool(v as tf.Tensor4D, f, st, pad)
          .mul(dy)
          .sum(),
      )(x),
    );
  }
  for (const [shape, size, align, half] of [
    [[2, 5, 6, 4], [10, 12], false, false],
    [[1, 4, 4, 3], [7, 9], false, false],
    [[1, 4, 4, 3], [7, 9], true, false],
    [[2, 5, 5, 2], [9, 3], false, true],
  ] as Array<[number[], [number, number], boolean, boolean]>) {
    const x = rand(shape);
    compare(t, reg, 'ResizeNearestNeighbor', `resize [${shape}] -> ${size} align ${align} half ${half}`, () =>
      tf.image.resizeNearestNeighbor(x as tf.Tensor4D, size, align, half),
    );
  }
  // The JS gradient reads dy at the input's batch stride, so it is only right for batch 1;
  // larger batches are checked image by image.
  for (const [shape, size, align] of [
    [[1, 5, 6, 4], [10, 12], false],
    [[1, 4, 4, 3], [7, 9], true],
    [[1, 6, 6, 2], [4, 3], false],
  ] as Array<[number[], [number, number], boolean]>) {
    const x = rand(shape);
    const dy = rand([shape[0], size[0], size[1], shape[3]]);
    compare(t, reg, 'ResizeNearestNeighborGrad', `resize grad [${shape}] -> ${size} align ${align}`, () =>
      tf.grad((v: tf.Tensor) =>
        tf.image
          .resizeNearestNeighbor(v as tf.Tensor4D, size, align)
          .mul(dy)
          .sum(),
      )(x),
    );
  }
  const x = rand([3, 5, 5, 4]);
  const dy = rand([3, 10, 10, 4]);
  const grad = (v: tf.Tensor, g: tf.Tensor) =>
    tf.grad((u: tf.Tensor) =>
      tf.image
        .resizeNearestNeighbor(u as tf.Tensor4D, [10, 10])
        .mul(g)
        .sum(),
    )(v);
  const count = reg.counts.get('ResizeNearestNeighborGrad');
  const before = count?.native ?? 0;
  const nativeBatched = tf.tidy(() => grad(x, dy));
  t.ok((count?.native ?? 0) > before, 'batched resize grad ran natively');
  reg.enabled = false;
  const jsBatched = tf.tidy(() => grad(x, dy));
  const perImage = tf.tidy(() =>
    tf.concat(
      [0, 1, 2].map((i) => grad(x.slice(i, 1), dy.slice(i, 1))),
      0,
    ),
  );
  reg.enabled = true;
  const err = tf.tidy(() => tf.max(tf.abs(nativeBatched.sub(perImage))).dataSync()[0]);
  t.ok(err <= 1e-6, `batched native resize grad equals per-image JS grads (max abs diff ${err})`);
  const jsErr = tf.tidy(() => tf.max(tf.abs(jsBatched.sub(perImage))).dataSync()[0]);
  t.comment(`for reference, the batched JS grad differs from the per-image JS grads by ${jsErr}`);
}
