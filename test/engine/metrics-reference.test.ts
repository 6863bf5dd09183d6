// box_iou, CIoU, the true-positive matrix and the per-class metrics against the YOLOv5 reference.
import t from 'tap';
import { boxIou, bboxCiou, matchDetections, MetricsAccumulator } from '../../worker/engine/metrics/index.ts';
import { closeAll, readF32, readRefManifest, referenceDir } from './loss-reference.ts';

const dir = referenceDir();
if (!dir) {
  t.comment('skipping metrics reference tests: reference folder (vectors.json) not found');
  t.pass('reference absent', { skip: 'reference folder shared/reference not found' });
} else {
  const man = readRefManifest(dir);
  const M = man.metrics;

  t.test('box_iou', async (t) => {
    const got = boxIou(M.box_iou.box1_xyxy, M.box_iou.box2_xyxy);
    t.equal(closeAll(got.flat(), (M.box_iou.expected as number[][]).flat(), 0, 1e-6), null, 'within atol 1e-6');
  });

  t.test('CIoU', async (t) => {
    const got = (M.ciou.box1_xywh as number[][]).map((b, i) => bboxCiou(b, M.ciou.box2_xywh[i]));
    t.equal(closeAll(got, M.ciou.expected, 0, 1e-6), null, 'within atol 1e-6');
  });

  const labels = readF32(dir, M.labels);
  const dets = readF32(dir, M.detections);
  const correctRef = readF32(dir, M.expected_correct);
  const nT = M.iou_thresholds.length;
  const perImage = (n: number) => {
    const out: { det: number[]; lab: number[] }[] = Array.from({ length: n }, () => ({ det: [], lab: [] }));
    for (let i = 0; i < labels.length / 6; i++) {
      const r = labels.subarray(i * 6, i * 6 + 6);
      out[r[0]].lab.push(r[1], r[2], r[3], r[4], r[5]);
    }
    for (let i = 0; i < dets.length / 7; i++) {
      const r = dets.subarray(i * 7, i * 7 + 7);
      out[r[0]].det.push(r[1], r[2], r[3], r[4], r[5], r[6]);
    }
    return out;
  };
  const images = perImage(M.n_images);

  t.test('counts per image match the manifest', async (t) => {
    t.same(
      images.map((im) => im.lab.length / 5),
      M.labels_per_image,
    );
    t.same(
      images.map((im) => im.det.length / 6),
      M.detections_per_image,
    );
  });

  t.test('true-positive matrix equals metrics_correct exactly', async (t) => {
    const got: number[] = [];
    for (const im of images) got.push(...matchDetections(Float32Array.from(im.det), im.lab, M.iou_thresholds));
    t.equal(got.length, correctRef.length, `${got.length / nT} rows × ${nT}`);
    const diff = got.findIndex((v, i) => v !== correctRef[i]);
    t.equal(diff, -1, diff < 0 ? 'all flags equal' : `first difference at row ${Math.floor(diff / nT)} threshold ${diff % nT}`);
  });

  t.test('per-class P, R, F1, AP and the means', async (t) => {
    const acc = new MetricsAccumulator({ nc: M.num_class_ids });
    for (const im of images) acc.add(Float32Array.from(im.det), im.lab);
    const m = acc.compute();
    const ex = M.expected;
    t.same(m.labelsPerClass, ex.labels_per_class, 'labels per class');
    t.same(
      m.perClass.map((c) => c.cls),
      ex.per_class.map((c) => c.class),
      'classes reported',
    );
    for (const [i, e] of ex.per_class.entries()) {
      const c = m.perClass[i];
      t.equal(
        closeAll([c.ap50, c.ap50_95, c.p, c.r, c.f1], [e.ap50, e.ap50_95, e.p, e.r, e.f1], 0, 1e-5),
        null,
        `class ${e.class}: ap50 ${c.ap50}, ap ${c.ap50_95}, p ${c.p}, r ${c.r}, f1 ${c.f1}`,
      );
      t.equal(closeAll(c.ap, e.ap_per_iou, 0, 1e-5), null, `class ${e.class}: AP at each IoU`);
      t.same([c.tp, c.fp], [e.tp, e.fp], `class ${e.class}: tp ${c.tp}, fp ${c.fp}`);
    }
    t.equal(
      closeAll([m.mp, m.mr, m.map50, m.map], [ex.mp, ex.mr, ex.map50, ex.map], 0, 1e-5),
      null,
      `mp ${m.mp}, mr ${m.mr}, map50 ${m.map50}, map ${m.map}`,
    );
    t.ok(Math.abs(m.fitness - (0.1 * ex.map50 + 0.9 * ex.map)) < 1e-5, `fitness ${m.fitness}`);
  });
}
