// nonMaxSuppression against the YOLOv5 (torchvision) reference: counts, order, classes exactly; boxes and conf within tolerance.
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { nonMaxSuppression } from '../../worker/engine/metrics/index.ts';
import { closeAll, readF32, readRefManifest, referenceDir } from './loss-reference.ts';

const dir = referenceDir();
if (!dir) {
  t.comment('skipping NMS reference tests: reference folder (vectors.json) not found');
  t.pass('reference absent', { skip: 'reference folder shared/reference not found' });
} else {
  await tf.setBackend('cpu');
  const N = readRefManifest(dir).nms;
  const input = readF32(dir, N.input);
  const output = readF32(dir, N.output);
  const shape = N.input.shape as [number, number, number];
  const opts = {
    confThres: N.params.conf_thres,
    iouThres: N.params.iou_thres,
    multiLabel: N.params.multi_label,
    agnostic: N.params.agnostic,
    maxDet: N.params.max_det,
  };

  const check = (t: Test, dets: Float32Array[]) => {
    t.same(
      dets.map((d) => d.length / 6),
      N.kept_per_image,
      `kept per image ${dets.map((d) => d.length / 6)}`,
    );
    let row = 0;
    dets.forEach((d, b) => {
      const ref = output.subarray(row * 7, (row + d.length / 6) * 7);
      row += d.length / 6;
      const n = Math.min(d.length / 6, ref.length / 7);
      const col = (a: ArrayLike<number>, w: number, off: number, cols: number[]) =>
        Array.from({ length: n }, (_, i) => cols.map((c) => a[i * w + off + c])).flat();
      t.ok(
        Array.from({ length: n }).every((_, i) => ref[i * 7] === b),
        `reference rows of image ${b}`,
      );
      t.same(col(d, 6, 0, [5]), col(ref, 7, 0, [6]), `image ${b}: classes in order`);
      t.equal(closeAll(col(d, 6, 0, [0, 1, 2, 3]), col(ref, 7, 0, [1, 2, 3, 4]), 1e-6, 1e-4), null, `image ${b}: boxes`);
      t.equal(closeAll(col(d, 6, 0, [4]), col(ref, 7, 0, [5]), 1e-6, 0), null, `image ${b}: conf`);
    });
  };

  t.test('Float32Array input', async (t) => check(t, nonMaxSuppression(input, { ...opts, shape })));
  t.test('tensor input', async (t) => {
    const x = tf.tensor3d(input, shape);
    check(t, nonMaxSuppression(x, opts));
    x.dispose();
  });
}
