// profileByShape: counts calls per kernel and input shapes, and puts the kernels back.
import * as tf from '@tensorflow/tfjs';
import t from 'tap';

import { profileByShape } from '../../worker/native/index.ts';
import { rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const a = rand([3, 5]),
    b = rand([5]),
    c = rand([4, 5]);
  const before = tf.getKernel('Add', 'cpu')?.kernelFunc;
  const rows = profileByShape(() => {
    tf.dispose([tf.add(a, b), tf.add(a, b), tf.add(c, b), tf.mul(a, a)]);
    // a fused conv without bias hands the kernel undefined optional inputs
    tf.dispose(
      tf.fused.conv2d({ x: rand([1, 4, 4, 2]) as tf.Tensor4D, filter: rand([1, 1, 2, 3]) as tf.Tensor4D, strides: 1, pad: 'valid' }),
    );
  });
  const find = (k: string, shapes: number[][]) => rows.find((r) => r.kernel === k && JSON.stringify(r.shapes) === JSON.stringify(shapes));
  t.equal(find('Add', [[3, 5], [5]])?.calls, 2, 'two calls of Add on [3,5] + [5]');
  t.equal(find('Add', [[4, 5], [5]])?.calls, 1, 'one call on [4,5] + [5], counted apart');
  t.equal(
    find('Multiply', [
      [3, 5],
      [3, 5],
    ])?.calls,
    1,
    'and the Multiply',
  );
  t.equal(
    find('FusedConv2D', [
      [1, 4, 4, 2],
      [1, 1, 2, 3],
    ])?.calls,
    1,
    'a fused conv with absent optional inputs is listed by its present ones',
  );
  t.ok(
    rows.every((r) => r.ms >= 0),
    'times are non-negative',
  );
  t.equal(tf.getKernel('Add', 'cpu')?.kernelFunc, before, 'the kernels are put back afterwards');
  tf.dispose([a, b, c]);
  s.reg.restore();
}
