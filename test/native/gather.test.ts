import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { compare, rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const { reg } = s;
  const randInts = (n: number, hi: number) =>
    tf.tensor1d(
      Array.from({ length: n }, () => Math.floor(Math.random() * hi)),
      'int32',
    );
  const x = rand([6, 7, 5]);
  for (const axis of [0, 1, 2]) {
    const idx = randInts(9, x.shape[axis]);
    compare(t, reg, 'GatherV2', `gather axis ${axis}`, () => tf.gather(x, idx, axis));
  }
  const flat = rand([2000, 85]);
  const slots = randInts(300, 2000);
  compare(t, reg, 'GatherV2', 'gather rows of a prediction map', () => tf.gather(flat, slots));
  compare(t, reg, 'UnsortedSegmentSum', 'gradient of a gather (repeated rows)', () =>
    tf.grad((v: tf.Tensor) => tf.gather(v, slots).square().sum())(flat),
  );
  const data = rand([40, 3]);
  const ids = tf.tensor1d(
    Array.from({ length: 40 }, () => Math.floor(Math.random() * 12) - 1),
    'int32',
  );
  const slots2 = tf.tensor2d(
    Array.from({ length: 50 }, () => [Math.floor(Math.random() * 4), Math.floor(Math.random() * 30)]),
    [50, 2],
    'int32',
  );
  const upd = rand([50, 3]);
  compare(t, reg, 'ScatterNd', 'scatterNd rows (duplicates summed)', () => tf.scatterND(slots2, upd, [4, 30, 3]));
  const flatSlots = tf.tensor2d(
    Array.from({ length: 40 }, () => [Math.floor(Math.random() * 500)]),
    [40, 1],
    'int32',
  );
  const vals = rand([40]);
  compare(t, reg, 'ScatterNd', 'scatterNd scalars into a vector', () => tf.scatterND(flatSlots, vals, [500]));
  compare(t, reg, 'UnsortedSegmentSum', 'segment sum with dropped ids', () => tf.unsortedSegmentSum(data, ids, 10));
}
