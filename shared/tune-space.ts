/**
 * What a study may search (docs/tune.md). YOLOv5: train.py's evolution metadata, one entry per
 * hyperparameter of hyp.scratch-low that flotilla's trainer reads: [gain, lower, upper]. The gain
 * (0..1) scales the mutation of that gene; 0 means evolve never changes it (train.py keeps iou_t,
 * fl_gamma, perspective and fliplr fixed that way). train.py's `anchors` gene is left out: a
 * flotilla job keeps its cfg's anchor count. logreg: its learning rate, for fast platform tests.
 */
export type GeneMeta = readonly [gain: number, lower: number, upper: number];

export const YOLOV5_META: Readonly<Record<string, GeneMeta>> = {
  lr0: [1, 1e-5, 1e-1],
  lrf: [1, 0.01, 1.0],
  momentum: [0.3, 0.6, 0.98],
  weight_decay: [1, 0.0, 0.001],
  warmup_epochs: [1, 0.0, 5.0],
  warmup_momentum: [1, 0.0, 0.95],
  warmup_bias_lr: [1, 0.0, 0.2],
  box: [1, 0.02, 0.2],
  cls: [1, 0.2, 4.0],
  cls_pw: [1, 0.5, 2.0],
  obj: [1, 0.2, 4.0],
  obj_pw: [1, 0.5, 2.0],
  iou_t: [0, 0.1, 0.7],
  anchor_t: [1, 2.0, 8.0],
  fl_gamma: [0, 0.0, 2.0],
  hsv_h: [1, 0.0, 0.1],
  hsv_s: [1, 0.0, 0.9],
  hsv_v: [1, 0.0, 0.9],
  degrees: [1, 0.0, 45.0],
  translate: [1, 0.0, 0.9],
  scale: [1, 0.0, 0.9],
  shear: [1, 0.0, 10.0],
  perspective: [0, 0.0, 0.001],
  flipud: [1, 0.0, 1.0],
  fliplr: [0, 0.0, 1.0],
  mosaic: [1, 0.0, 1.0],
  mixup: [1, 0.0, 1.0],
  copy_paste: [1, 0.0, 1.0],
};

/** logreg's searchable fields (trainer.lr), with the bounds its JobSpec allows. */
export const LOGREG_META: Readonly<Record<string, GeneMeta>> = { lr: [1, 1e-6, 100] };

/** The keys a study of a trainer kind may name in `space`. */
export function metaOf(kind: 'yolov5' | 'logreg'): Readonly<Record<string, GeneMeta>> {
  return kind === 'yolov5' ? YOLOV5_META : LOGREG_META;
}
