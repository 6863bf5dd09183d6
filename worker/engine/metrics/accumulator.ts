/** Collects validation results image by image and reduces them to P, R, mAP and fitness. */
import { apPerClass, type ClassMetrics, type MetricCurves } from './ap-per-class.ts';
import { ConfusionMatrix } from './confusion.ts';
import { IOU_THRESHOLDS, matchDetections } from './match-detections.ts';

/** Per-class entry of {@link ValidationMetrics}. */
export interface ClassResult extends ClassMetrics {
  /** AP at IoU 0.5 */
  readonly ap50: number;
  /** mean AP over IoU 0.50:0.95 */
  readonly ap50_95: number;
}

/** The validation summary; means run over the classes that have labels. */
export interface ValidationMetrics {
  /** mean precision and recall at the max-F1 confidence */
  readonly mp: number;
  readonly mr: number;
  /** mAP@0.5 and mAP@0.5:0.95 */
  readonly map50: number;
  readonly map: number;
  /** 0.1·map50 + 0.9·map */
  readonly fitness: number;
  /** one entry per class with labels, ascending class id */
  readonly perClass: readonly ClassResult[];
  /** labels per class id (length max(nc, largest id + 1)) */
  readonly labelsPerClass: readonly number[];
  /** images seen */
  readonly images: number;
  /** the confusion matrix of the same detections and labels (when the accumulator knows nc) */
  readonly confusion?: ConfusionMatrix;
  /** the P, R, F1 and PR curves the numbers were read from (absent without a true positive) */
  readonly curves?: MetricCurves;
}

/** YOLOv5 fitness: 0.1·mAP@0.5 + 0.9·mAP@0.5:0.95 (P and R weigh 0). */
export function fitness(m: { readonly map50: number; readonly map: number }): number {
  return 0.1 * m.map50 + 0.9 * m.map;
}

/** Options of {@link MetricsAccumulator}. */
export interface AccumulatorOptions {
  /** number of classes, for labelsPerClass; default 0 (as many as seen) */
  readonly nc?: number;
  /** IoU thresholds; default 0.50:0.05:0.95 */
  readonly iouThresholds?: readonly number[];
}

/**
 * Usage: `add(detections, labels)` once per image (detections as NMS returns them, labels as
 * rows [cls, x1, y1, x2, y2] in the same pixel space), then `compute()`.
 */
export class MetricsAccumulator {
  readonly #iouv: readonly number[];
  readonly #nc: number;
  readonly #correct: number[] = [];
  readonly #conf: number[] = [];
  readonly #predCls: number[] = [];
  readonly #targetCls: number[] = [];
  #images = 0;
  readonly #confusion: ConfusionMatrix | null;

  constructor(opts: AccumulatorOptions = {}) {
    this.#iouv = opts.iouThresholds ?? IOU_THRESHOLDS;
    this.#nc = opts.nc ?? 0;
    this.#confusion = this.#nc > 0 ? new ConfusionMatrix(this.#nc) : null;
  }

  /** Adds one image: detections rows [x1, y1, x2, y2, conf, cls]; labels rows [cls, x1, y1, x2, y2]. */
  add(detections: ArrayLike<number>, labels: ArrayLike<number>): void {
    if (detections.length % 6 !== 0) throw new Error(`detections length ${detections.length} is not a multiple of 6`);
    if (labels.length % 5 !== 0) throw new Error(`labels length ${labels.length} is not a multiple of 5`);
    const correct = matchDetections(detections, labels, this.#iouv);
    for (let i = 0; i < correct.length; i++) this.#correct.push(correct[i]);
    for (let d = 0; d < detections.length / 6; d++) {
      this.#conf.push(detections[d * 6 + 4]);
      this.#predCls.push(detections[d * 6 + 5]);
    }
    for (let l = 0; l < labels.length / 5; l++) this.#targetCls.push(labels[l * 5]);
    this.#confusion?.add(detections, labels);
    this.#images++;
  }

  /**
   * Everything added so far as one flat array (for an allgather across ranks): images,
   * detections, labels, confusion-matrix cells, then correct (detections × IoU thresholds),
   * conf, predicted and target classes, then the confusion counts. Values are float32-exact
   * (0/1 flags, float32 scores, class ids, counts below 2²⁴).
   */
  pack(): Float32Array {
    const nd = this.#conf.length,
      nl = this.#targetCls.length;
    const cm = this.#confusion?.counts ?? new Float64Array(0);
    const out = new Float32Array(4 + this.#correct.length + 2 * nd + nl + cm.length);
    out[0] = this.#images;
    out[1] = nd;
    out[2] = nl;
    out[3] = cm.length;
    let o = 4;
    for (const a of [this.#correct, this.#conf, this.#predCls, this.#targetCls]) {
      out.set(a, o);
      o += a.length;
    }
    out.set(cm, o);
    return out;
  }

  /** Appends what another accumulator (same IoU thresholds) packed. */
  addPacked(p: Float32Array): void {
    const [images, nd, nl, ncm] = [p[0], p[1], p[2], p[3]];
    const ni = this.#iouv.length;
    if (p.length !== 4 + nd * ni + 2 * nd + nl + ncm)
      throw new Error(
        `packed metrics of length ${p.length} do not match ${nd} detections × ${ni} thresholds, ${nl} labels and ${ncm} confusion cells`,
      );
    let o = 4;
    const take = (n: number, into: number[]) => {
      for (let i = 0; i < n; i++) into.push(p[o + i]);
      o += n;
    };
    take(nd * ni, this.#correct);
    take(nd, this.#conf);
    take(nd, this.#predCls);
    take(nl, this.#targetCls);
    if (ncm && this.#confusion) this.#confusion.addCounts(p.subarray(o, o + ncm));
    this.#images += images;
  }

  compute(): ValidationMetrics {
    const labelsPerClass = new Array<number>(Math.max(this.#nc, ...this.#targetCls.map((c) => c + 1), 0)).fill(0);
    for (const c of this.#targetCls) labelsPerClass[c]++;
    // As val.py: without a single true positive the metrics stay at zero.
    const confusion = this.#confusion ? { confusion: this.#confusion } : {};
    if (!this.#correct.some((v) => v !== 0)) {
      return { mp: 0, mr: 0, map50: 0, map: 0, fitness: 0, perClass: [], labelsPerClass, images: this.#images, ...confusion };
    }
    const curves: { value?: MetricCurves } = {};
    const classes = apPerClass(this.#correct, this.#conf, this.#predCls, this.#targetCls, curves);
    const perClass = classes.map((c) => ({ ...c, ap50: c.ap[0], ap50_95: mean(c.ap) }));
    const map50 = mean(perClass.map((c) => c.ap50)),
      map = mean(perClass.map((c) => c.ap50_95));
    return {
      mp: mean(perClass.map((c) => c.p)),
      mr: mean(perClass.map((c) => c.r)),
      map50,
      map,
      fitness: fitness({ map50, map }),
      perClass,
      labelsPerClass,
      images: this.#images,
      ...confusion,
      ...(curves.value ? { curves: curves.value } : {}),
    };
  }
}

function mean(a: readonly number[]): number {
  return a.length ? a.reduce((s, v) => s + v, 0) / a.length : 0;
}
