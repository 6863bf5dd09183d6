// The loss against the YOLOv5 reference: loss items, match/duplicate counts and d(total)/d(pred).
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { buildTargets, computeLoss, lossGains } from '../../worker/engine/loss/index.ts';
import { closeAll, findEntry, readF32, readRefManifest, referenceDir, type RefFile } from './loss-reference.ts';

const dir = referenceDir();
if (!dir) {
  t.comment('skipping loss reference tests: reference folder (vectors.json) not found');
  t.pass('reference absent', { skip: 'reference folder shared/reference not found' });
} else {
  await tf.setBackend('cpu');
  const man = readRefManifest(dir);
  const model = man.forward.model;
  const lh = man.loss.hyp;
  const hyp = loadHyp(undefined, {
    anchor_t: lh.anchor_t,
    fl_gamma: lh.fl_gamma,
    label_smoothing: lh.label_smoothing,
    cls_pw: lh.cls_pw,
    obj_pw: lh.obj_pw,
  });
  const meta = { nc: model.nc, anchors: model.anchors_grid_units, strides: model.strides, imgsz: lh.imgsz };

  t.test('gains scale with nc, imgsz and nl as the reference hyp says', async (t) => {
    const g = lossGains(hyp, meta.nc, meta.anchors.length, meta.imgsz);
    t.ok(Math.abs(g.box - lh.box) < 1e-12, `box ${g.box}`);
    t.ok(Math.abs(g.obj - lh.obj) < 1e-12, `obj ${g.obj}`);
    t.ok(Math.abs(g.cls - lh.cls) < 1e-12, `cls ${g.cls}`);
  });

  for (const c of man.loss.cases) {
    t.test(`case ${c.name}`, async (t) => {
      const predEntries: RefFile[] = c.predictions.map((p) => {
        const e = typeof p === 'string' ? findEntry(man, p) : p;
        if (!e) throw new Error(`no manifest entry for ${String(p)}`);
        return e;
      });
      const preds = predEntries.map((e) => tf.tensor(readF32(dir, e), e.shape));
      const targets = readF32(dir, c.targets);
      const ex = c.expected;

      const levels = buildTargets(
        targets,
        meta.anchors,
        preds.map((p) => ({ batch: p.shape[0], ny: p.shape[2] as number, nx: p.shape[3] as number })),
        hyp.anchor_t,
      );
      t.same(
        levels.map((l) => l.n),
        ex.matches_per_level,
        'matches per level',
      );
      t.same(
        levels.map((l) => l.duplicateSlots),
        ex.duplicate_cells_per_level,
        'duplicate slots per level',
      );

      const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => computeLoss(ps, targets, meta, hyp).total)(preds);
      const items = computeLoss(preds, targets, meta, hyp);
      const got = {
        lbox: items.lbox.dataSync()[0],
        lobj: items.lobj.dataSync()[0],
        lcls: items.lcls.dataSync()[0],
        total: items.total.dataSync()[0],
      };
      for (const k of ['lbox', 'lobj', 'lcls', 'total'] as const) {
        const bad = closeAll([got[k]], [ex[k]], 1e-5, 0);
        t.equal(bad, null, `${k} = ${got[k]} (reference ${ex[k]})`);
      }
      t.equal(closeAll(value.dataSync(), [ex.total], 1e-5, 0), null, 'valueAndGrads value equals total');
      c.grad.forEach((ge, i) => {
        t.same(grads[i].shape, ge.shape, `grad ${i} shape`);
        const bad = closeAll(grads[i].dataSync(), readF32(dir, ge), 1e-4, 1e-8);
        t.equal(bad, null, `grad ${i} (${ge.file}) within rtol 1e-4, atol 1e-8`);
      });
      tf.dispose([...preds, ...grads, value, items.total, items.lbox, items.lobj, items.lcls]);
    });
  }
}
