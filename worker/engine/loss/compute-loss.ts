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

/** The prediction grid of one level: [batch, na, ny, nx, no]. */
export interface LossGrid {
  readonly batch: number;
  readonly na: number;
  readonly ny: number;
  readonly nx: number;
  readonly no: number;
}

/** Integers are stored in the float32 upload only below this (exact in float32). */
const FLOAT_EXACT = 2 ** 24;

/**
 * A batch's target assignment made on the host, laid out for ONE upload: per level
 * [anch n×2 | tbox n×4 | slot n | tcls n | objFrom u | objSlot u] in `floats`, the integers as
 * exact float32 values. When a grid has 2^24 slots or more (no longer exact in float32) the
 * integers travel apart, in `ints`, a second upload.
 */
export interface PreparedTargets {
  readonly grids: readonly LossGrid[];
  readonly levels: readonly LevelTargets[];
  readonly floats: Float32Array;
  /** the integer parts when they do not fit float32 exactly, else null */
  readonly ints: Int32Array | null;
  /** per level: offsets of the parts in `floats` (and `ints`) */
  readonly at: readonly { anch: number; tbox: number; ints: number }[];
}

/** Checks the targets and assigns them to the grids (host work, nothing uploaded). */
export function prepareTargets(targets: Float32Array, meta: LossMeta, grids: readonly LossGrid[], hyp: LossHyp): PreparedTargets {
  const nl = grids.length;
  if (meta.anchors.length !== nl) throw new Error(`${nl} prediction levels but ${meta.anchors.length} anchor levels`);
  grids.forEach((g, i) => {
    if (g.na !== meta.anchors[i].length) throw new Error(`prediction ${i} has ${g.na} anchors, meta has ${meta.anchors[i].length}`);
    if (g.no !== meta.nc + 5) throw new Error(`prediction ${i} has ${g.no} outputs, expected nc + 5 = ${meta.nc + 5}`);
  });
  for (let r = 1; r < targets.length; r += 6) {
    if (!(targets[r] >= 0 && targets[r] < meta.nc))
      throw new Error(`target ${(r - 1) / 6} has class ${targets[r]}, outside [0, ${meta.nc})`);
  }
  const levels = buildTargets(targets, meta.anchors, grids, hyp.anchor_t);
  const exact = grids.every((g) => g.batch * g.na * g.ny * g.nx < FLOAT_EXACT);
  let nf = 0,
    ni = 0;
  const at = levels.map((lt) => {
    const ints = 2 * lt.n + 2 * lt.objSlot.length;
    const a = { anch: nf, tbox: nf + 2 * lt.n, ints: exact ? nf + 6 * lt.n : ni };
    nf += 6 * lt.n + (exact ? ints : 0);
    ni += exact ? 0 : ints;
    return a;
  });
  const floats = new Float32Array(nf);
  const ints = exact ? null : new Int32Array(ni);
  levels.forEach((lt, i) => {
    floats.set(lt.anch, at[i].anch);
    floats.set(lt.tbox, at[i].tbox);
    const dst: Float32Array | Int32Array = ints ?? floats;
    let o = at[i].ints;
    for (const part of [lt.slot, lt.tcls, lt.objFrom, lt.objSlot]) {
      dst.set(part, o);
      o += part.length;
    }
  });
  return { grids, levels, floats, ints, at };
}

/** The grids of `preds`, checked to be [B, na, ny, nx, no]. */
export function gridsOf(preds: ReadonlyArray<tf.Tensor>): LossGrid[] {
  return preds.map((p, i) => {
    if (p.rank !== 5) throw new Error(`prediction ${i} has rank ${p.rank}, expected [B, na, ny, nx, no]`);
    const [batch, na, ny, nx, no] = p.shape;
    return { batch, na, ny, nx, no };
  });
}

/**
 * The YOLOv5 ComputeLoss.
 *
 * @param preds per level [B, na, ny, nx, 5 + nc] logits [x, y, w, h, obj, cls…]
 * @param targets nt×6 rows [img, cls, xc, yc, w, h], normalised to [0, 1]
 * @param meta classes, anchors (grid units), strides and image size
 * @param hyp gains (before scaling, as in the hyp yaml), anchor_t, fl_gamma, label_smoothing, cls_pw, obj_pw
 *
 * Target assignment runs in plain JS and goes to the backend in one upload (prepareTargets);
 * the training loop puts it in the same upload as the images (computePreparedLoss).
 */
export function computeLoss(preds: ReadonlyArray<tf.Tensor>, targets: Float32Array, meta: LossMeta, hyp: LossHyp): LossResult {
  const prep = prepareTargets(targets, meta, gridsOf(preds), hyp);
  return tf.tidy(() => {
    const r = computePreparedLoss(preds, prep, tf.tensor1d(prep.floats), meta, hyp);
    return { total: r.total, lbox: r.lbox, lobj: r.lobj, lcls: r.lcls };
  });
}

/**
 * The loss from prepared targets whose `floats` are already on the backend as `uploaded`
 * (a [prep.floats.length] tensor). The predictions are read with one gather per level
 * (assigned rows and the objectness column together; gradient: one scatter-add).
 * The objectness target of an assigned slot is its CIoU clamped at 0 and held constant; a slot
 * assigned more than once takes the value of its last assignment.
 */
export function computePreparedLoss(
  preds: ReadonlyArray<tf.Tensor>,
  prep: PreparedTargets,
  uploaded: tf.Tensor1D,
  meta: LossMeta,
  hyp: LossHyp,
): LossResult {
  const shapes = gridsOf(preds);
  const nl = preds.length;
  shapes.forEach((g, i) => {
    const w = prep.grids[i];
    if (!w || g.batch !== w.batch || g.na !== w.na || g.ny !== w.ny || g.nx !== w.nx || g.no !== w.no) {
      throw new Error(
        `prediction ${i} is [${[g.batch, g.na, g.ny, g.nx, g.no]}], its targets were prepared for [${w ? [w.batch, w.na, w.ny, w.nx, w.no] : 'nothing'}]`,
      );
    }
  });
  if (uploaded.size !== prep.floats.length)
    throw new Error(`uploaded targets have ${uploaded.size} values, expected ${prep.floats.length}`);
  const gains = lossGains(hyp, meta.nc, nl, meta.imgsz);
  const balance = objBalance(nl);
  const eps = hyp.label_smoothing;
  const cp = 1 - 0.5 * eps,
    cn = 0.5 * eps;
  const bs = shapes[0].batch;

  return tf.tidy(() => {
    const intsUp = prep.ints ? tf.tensor1d(prep.ints, 'int32') : null;
    /** `len` integers at `off` of the level's integer part, as int32 on the backend */
    const intPart = (off: number, len: number): tf.Tensor1D =>
      intsUp ? tf.slice(intsUp, off, len) : tf.cast(tf.slice(uploaded, off, len), 'int32');
    let lbox: tf.Scalar = tf.scalar(0),
      lobj: tf.Scalar = tf.scalar(0),
      lcls: tf.Scalar = tf.scalar(0);
    for (let i = 0; i < nl; i++) {
      const { batch, na, ny, nx, no } = shapes[i];
      const m = batch * na * ny * nx;
      const lt = prep.levels[i];
      const at = prep.at[i];
      const n = lt.n,
        u = lt.objSlot.length;
      // One gather reads the assigned rows and the whole objectness column, so that the
      // gradient w.r.t. the level is a single scatter instead of scatter + pad + add; the
      // indices (slot·no + c, then s·no + 4) are made on the backend from the slots.
      const noI = tf.scalar(no, 'int32');
      const column = tf.add(tf.mul(tf.range(0, m, 1, 'int32'), noI), tf.scalar(4, 'int32'));
      const idx =
        n > 0
          ? tf.concat([
              tf.reshape(tf.add(tf.mul(tf.reshape(intPart(at.ints, n), [n, 1]), noI), tf.range(0, no, 1, 'int32')), [n * no]),
              column,
            ])
          : column;
      const picked = gatherRows(tf.reshape(preds[i], [m * no, 1]) as tf.Tensor2D, idx as tf.Tensor1D).reshape([n * no + m]);
      const pobj = picked.slice(n * no, m);
      let tobj: tf.Tensor1D;
      if (n > 0) {
        const ps = picked.slice(0, n * no).reshape([n, no]);
        const anch = tf.reshape(tf.slice(uploaded, at.anch, 2 * n), [n, 2]);
        const tbox = tf.reshape(tf.slice(uploaded, at.tbox, 4 * n), [n, 4]) as tf.Tensor2D;
        const pxy = tf
          .sigmoid(ps.slice([0, 0], [n, 2]))
          .mul(2)
          .sub(0.5);
        const pwh = tf
          .sigmoid(ps.slice([0, 2], [n, 2]))
          .mul(2)
          .square()
          .mul(anch);
        const iou = bboxCiou(tf.concat([pxy, pwh], 1) as tf.Tensor2D, tbox);
        lbox = lbox.add(tf.sub(1, iou).mean()) as tf.Scalar;
        const objFrom = intPart(at.ints + 2 * n, u),
          objSlot = tf.reshape(intPart(at.ints + 2 * n + u, u), [u, 1]);
        tobj = objectnessTarget(iou, objFrom, objSlot, m);
        if (meta.nc > 1) {
          const pcls = ps.slice([0, 5], [n, meta.nc]);
          const t = tf
            .oneHot(intPart(at.ints + n, n), meta.nc)
            .toFloat()
            .mul(cp - cn)
            .add(cn);
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
function objectnessTarget(iou: tf.Tensor1D, objFrom: tf.Tensor1D, objSlot: tf.Tensor, m: number): tf.Tensor1D {
  return detached(iou, (v) => tf.scatterND(objSlot, tf.gather(tf.relu(v), objFrom), [m])) as tf.Tensor1D;
}
