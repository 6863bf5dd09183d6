import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { compare, rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const { reg } = s;
  const x = rand([3, 8, 10, 6]);
  compare(t, reg, 'Slice', 'slice middle', () => tf.slice(x, [1, 2, 3, 1], [2, 4, 5, 4]));
  compare(t, reg, 'Slice', 'slice last dim', () => tf.slice(x, [0, 0, 0, 2], [-1, -1, -1, 3]));
  const v = rand([50]);
  compare(t, reg, 'Slice', 'slice 1-d', () => tf.slice(v, 7, 20));
  compare(t, reg, 'SplitV', 'split channels', () => tf.split(x, [2, 1, 3], 3));
  compare(t, reg, 'SplitV', 'split even axis 1', () => tf.split(x, 4, 1));
  compare(t, reg, 'SplitV', 'split axis 0', () => tf.split(x, [1, 2], 0));
  const c2 = rand([3, 8, 10, 2]),
    c5 = rand([3, 8, 10, 5]),
    r1 = rand([3, 1, 10, 6]);
  compare(t, reg, 'Concat', 'concat channels', () => tf.concat([x, c2, c5], 3));
  compare(t, reg, 'Concat', 'concat axis 1', () => tf.concat([x, r1], 1));
  compare(t, reg, 'Concat', 'concat axis 0', () => tf.concat([x, x], 0));
  compare(t, reg, 'Tile', 'tile 4-d', () => tf.tile(x, [2, 1, 3, 2]));
  const col = rand([3, 1]),
    m = rand([37, 53]),
    p2 = rand([4, 5]);
  compare(t, reg, 'Tile', 'tile 2-d', () => tf.tile(col, [1, 40]));
  for (const perm of [
    [0, 3, 1, 2],
    [0, 2, 3, 1],
    [3, 2, 1, 0],
    [1, 0, 2, 3],
    [0, 1, 3, 2],
  ]) {
    compare(t, reg, 'Transpose', `transpose [${perm}]`, () => tf.transpose(x, perm));
  }
  compare(t, reg, 'Transpose', 'transpose 2-d', () => tf.transpose(m));
  for (const axis of [0, 1, 3, -1]) compare(t, reg, 'Unpack', `unstack axis ${axis}`, () => tf.unstack(x, axis));
  const parts = [rand([4, 5, 2]), rand([4, 5, 2]), rand([4, 5, 2])];
  for (const axis of [0, 1, 3]) compare(t, reg, 'Pack', `stack axis ${axis}`, () => tf.stack(parts, axis));
  compare(t, reg, 'PadV2', 'pad spatial', () =>
    tf.pad(
      x,
      [
        [0, 0],
        [1, 2],
        [3, 0],
        [0, 0],
      ],
      0.5,
    ),
  );
  compare(t, reg, 'PadV2', 'pad 2-d', () =>
    tf.pad(p2, [
      [2, 1],
      [0, 3],
    ]),
  );
}
