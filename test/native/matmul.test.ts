import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { compare, rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const { reg } = s;
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[7, 5], [5, 9], false, false],
    [[5, 7], [5, 9], true, false],
    [[7, 5], [9, 5], false, true],
    [[5, 7], [9, 5], true, true],
    [[3, 4, 6], [3, 6, 2], false, false],
    [[3, 4, 6], [6, 2], false, false],
    [[2, 3, 4, 6], [1, 6, 5], false, false],
    [[6, 4], [3, 5, 6], true, true],
    [[64, 33], [33, 48], false, false],
    // over 2M multiply-adds: split across the thread team (rows of one gemm, or the batch)
    [[301, 130], [70, 130], false, true],
    [[4, 97, 80], [4, 80, 90], false, false],
    [[3, 101, 64], [64, 120], false, false],
  ];
  for (const [as, bs, ta, tb] of cases) {
    const a = rand(as),
      b = rand(bs);
    const label = `[${as}]x[${bs}] ta=${ta} tb=${tb}`;
    compare(t, reg, 'BatchMatMul', `matmul ${label}`, () => tf.matMul(a, b, ta, tb));
    const n = tb ? bs[bs.length - 2] : bs[bs.length - 1];
    const bias = rand([n]);
    compare(t, reg, '_FusedMatMul', `fused matmul ${label}`, () =>
      tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: 'relu' }),
    );
  }
}
