import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { compare, rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const { reg } = s;
  const ops: Record<string, (x: tf.Tensor, axis: number | number[] | undefined, keep: boolean) => tf.Tensor> = {
    Sum: tf.sum,
    Mean: tf.mean,
    Max: tf.max,
    Min: tf.min,
    Prod: tf.prod,
  };
  // Shapes and axes: all, leading (BatchNorm statistics), trailing, middle, non-contiguous.
  const cases: Array<[number[], number | number[] | undefined]> = [
    [
      [4, 6, 6, 8],
      [0, 1, 2],
    ],
    [[4, 6, 6, 8], -1],
    [[4, 6, 6, 8], undefined],
    [
      [4, 6, 6, 8],
      [1, 2],
    ],
    [
      [4, 6, 6, 8],
      [0, 2],
    ],
    [[5, 7], 0],
    [[300000], 0],
    [[2, 120000, 3], 1],
  ];
  for (const [name, fn] of Object.entries(ops)) {
    for (const [shape, axis] of cases) {
      // Products of many numbers under- or overflow: keep them near 1.
      const x = name === 'Prod' ? rand(shape, 0.999, 1.001) : rand(shape);
      for (const keep of [false, true]) {
        compare(t, reg, name, `${name} [${shape}] axis ${JSON.stringify(axis)} keepDims ${keep}`, () => fn(x, axis, keep));
      }
    }
  }
}
