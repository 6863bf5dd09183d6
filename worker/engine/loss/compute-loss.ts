/** The YOLOv5 training loss (box CIoU, objectness, classification) on per-level logits. */
import * as tf from '@tensorflow/tfjs';
import type { Hyp } from '../hyp/index.ts';
import { bboxCiou, detached } from './bbox-ciou.ts';
import { bceWithLogits } from './bce.ts';
import { buildTargets, type LevelTargets } from './build-targets.ts';
import { gatherRows } from './gather-rows.ts';

/** The hyperparameters the loss reads (a full {@link Hyp} fits). */
export type LossHyp = Pick<Hyp, 'box' | 'obj' | 'cls' | 'cls_pw' | 'obj_pw' | 'anchor_t' | 'fl_gamma' | 'label_smoothing'>;

/** What the loss needs to know about the model and the input. */
export interface LossMeta {
  /** number of classes */
  readonly nc: number;
  /** [nl][na][2] anchor sizes in grid units of each level (pixels / stride) */
  readonly anchors: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>;
  /** stride of each level, in pixels */
  readonly strides: ReadonlyArray<number>;
  /** training image size (longest side), in pixels; scales the objectness gain */
  readonly imgsz: number;
}

/** Loss items: each already multiplied by its gain. */
export interface LossResult {
  /** (lbox + lobj + lcls) · batch size; differentiable w.r.t. the predictions */
  readonly total: tf.Scalar;
  readonly lbox: tf.Scalar;
  readonly lobj: tf.Scalar;
  readonly lcls: tf.Scalar;
}

/** Effective loss gains, as train.py scales hyp: by number of levels, classes and image size. */
export interface LossGains {
  readonly box: number;
  readonly obj: number;
  readonly cls: number;
}

/**
 * box·3/nl, cls·(nc/80)·3/nl, obj·(imgsz/640)²·3/nl.
 */
export function lossGains(hyp: Pick<Hyp, 'box' | 'obj' | 'cls'>, nc: number, nl: number, imgsz: number): LossGains {
  const s = 3 / nl;
  return { box: hyp.box * s, cls: hyp.cls * (nc / 80) * s, obj: hyp.obj * (imgsz / 640) ** 2 * s };
}

/** Per-level objectness weights: [4, 1, 0.4] for three levels, else [4, 1, 0.25, 0.06, 0.02]. */
export function objBalance(nl: number): number[] {
  if (nl < 1 || nl > 5) throw new Error(`objectness balance is defined for 1 to 5 levels, not ${nl}`);
  return nl === 3 ? [4.0, 1.0, 0.4] : [4.0, 1.0, 0.25, 0.06, 0.02].slice(0, nl);
}

/**
 * The YOLOv5 ComputeLoss.
 *
 * @param preds per level [B, na, ny, nx, 5 + nc] logits [x, y, w, h, obj, cls…]
 * @param targets nt×6 rows [img, cls, xc, yc, w, h], normalised to [0, 1]
 * @param meta classes, anchors (grid units), strides and image size
 * @param hyp gains (before scaling, as in the hyp yaml), anchor_t, fl_gamma, label_smoothing, cls_pw, obj_pw
 *
 * Target assignment runs in plain JS; the predictions are read with one gather per level
 * (assigned rows and the objectness column together; gradient: one scatter-add).
 * The objectness target of an assigned slot is its CIoU clamped at 0 and held constant; a slot
 * assigned more than once takes the value of its last assignment.
 */
export function computeLoss(
  preds: ReadonlyArray<tf.Tensor>,
  targets: Float32Array,
  meta: LossMeta,
  hyp: LossHyp,
): LossResult {
  const nl = preds.length;
  if (meta.anchors.length !== nl) throw new Error(`${nl} prediction levels but ${meta.anchors.length} anchor levels`);
  const shapes = preds.map((p, i) => {
    if (p.rank !== 5) throw new Error(`prediction ${i} has rank ${p.rank}, expected [B, na, ny, nx, no]`);
    const [batch, na, ny, nx, no] = p.shape;
    if (na !== meta.anchors[i].length) throw new Error(`prediction ${i} has ${na} anchors, meta has ${meta.anchors[i].length}`);
    if (no !== meta.nc + 5) throw new Error(`prediction ${i} has ${no} outputs, expected nc + 5 = ${meta.nc + 5}`);
    return { batch, na, ny, nx, no };
  });
  for (let r = 1; r < targets.length; r += 6) {
    if (!(targets[r] >= 0 && targets[r] < meta.nc)) throw new Error(`target ${(r - 1) / 6} has class ${targets[r]}, outside [0, ${meta.nc})`);
  }
  const levels = buildTargets(targets, meta.anchors, shapes, hyp.anchor_t);
  const gains = lossGains(hyp, meta.nc, nl, meta.imgsz);
  const balance = objBalance(nl);
  const eps = hyp.label_smoothing;
  const cp = 1 - 0.5 * eps, cn = 0.5 * eps;
  const bs = shapes[0].batch;

  return tf.tidy(() => {
    let lbox: tf.Scalar = tf.scalar(0), lobj: tf.Scalar = tf.scalar(0), lcls: tf.Scalar = tf.scalar(0);
    for (let i = 0; i < nl; i++) {
      const { batch, na, ny, nx, no } = shapes[i];
      const m = batch * na * ny * nx;
      const lt = levels[i];
      const n = lt.n;
      // One gather reads the assigned rows and the whole objectness column, so that the
      // gradient w.r.t. the level is a single scatter instead of scatter + pad + add.
      const idx = new Int32Array(n * no + m);
      for (let k = 0; k < n; k++) for (let c = 0; c < no; c++) idx[k * no + c] = lt.slot[k] * no + c;
      for (let s = 0; s < m; s++) idx[n * no + s] = s * no + 4;
      const picked = gatherRows(tf.reshape(preds[i], [m * no, 1]) as tf.Tensor2D, idx).reshape([n * no + m]);
      const pobj = picked.slice(n * no, m);
      let tobj: tf.Tensor1D;
      if (n > 0) {
        const ps = picked.slice(0, n * no).reshape([n, no]);
        const pxy = tf.sigmoid(ps.slice([0, 0], [n, 2])).mul(2).sub(0.5);
        const pwh = tf.sigmoid(ps.slice([0, 2], [n, 2])).mul(2).square().mul(tf.tensor2d(lt.anch, [n, 2]));
        const iou = bboxCiou(tf.concat([pxy, pwh], 1) as tf.Tensor2D, tf.tensor2d(lt.tbox, [n, 4]));
        lbox = lbox.add(tf.sub(1, iou).mean()) as tf.Scalar;
        tobj = objectnessTarget(iou, lt, m);
        if (meta.nc > 1) {
          const pcls = ps.slice([0, 5], [n, meta.nc]);
          const t = tf.oneHot(tf.tensor1d(lt.tcls, 'int32'), meta.nc).toFloat().mul(cp - cn).add(cn);
          lcls = lcls.add(bceWithLogits(pcls, t, { posWeight: hyp.cls_pw, focalGamma: hyp.fl_gamma })) as tf.Scalar;
        }
      } else {
        tobj = tf.fill([m], 0, 'float32') as tf.Tensor1D;
      }
      const obji = bceWithLogits(pobj, tobj, { posWeight: hyp.obj_pw, focalGamma: hyp.fl_gamma });
      lobj = lobj.add(obji.mul(balance[i])) as tf.Scalar;
    }
    lbox = lbox.mul(gains.box);
    lobj = lobj.mul(gains.obj);
    lcls = lcls.mul(gains.cls);
    const total = lbox.add(lobj).add(lcls).mul(bs) as tf.Scalar;
    return { total, lbox, lobj, lcls };
  });
}

/** Dense [m] objectness target: clamp(iou, 0) scattered to the assigned slots, held constant. */
function objectnessTarget(iou: tf.Tensor1D, lt: LevelTargets, m: number): tf.Tensor1D {
  return detached(iou, (v) => {
    const winners = tf.gather(tf.relu(v), tf.tensor1d(lt.objFrom, 'int32'));
    return tf.scatterND(tf.tensor2d(lt.objSlot, [lt.objSlot.length, 1], 'int32'), winners, [m]);
  }) as tf.Tensor1D;
}
