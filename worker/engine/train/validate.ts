/**
 * Validation as val.py runs it inside training: eval-mode forward, NMS (conf 0.001, IoU 0.6),
 * matching at IoU 0.50:0.95 in letterboxed pixels, P/R/mAP, and the mean loss items. Sharded
 * over ranks, each rank validates its part and `gather` brings every rank's statistics
 * together, so every rank computes the same metrics (in rank order, so the same on each).
 */
import * as tf from '@tensorflow/tfjs';
import type { Hyp } from '../hyp/index.ts';
import { computeLoss } from '../loss/index.ts';
import { MetricsAccumulator, nonMaxSuppression } from '../metrics/index.ts';
import type { TrainBatch, TrainableModel, ValMetrics } from './types.ts';

export interface ValidateOptions {
  /** NMS confidence threshold, default 0.001 */
  confThres?: number;
  /** NMS IoU threshold, default 0.6 */
  iouThres?: number;
  /** detections kept per image, default 300 */
  maxDet?: number;
  /** with `hyp` and `imgsz`, also compute the validation loss */
  hyp?: Hyp;
  imgsz?: number;
  signal?: AbortSignal;
  /** every rank's array, indexed by rank (an allgather): the batches are this rank's shard */
  gather?: (values: Float32Array) => Promise<Float32Array[]>;
  /** awaited after each batch with its detections (per image, rows [x1, y1, x2, y2, conf, cls]); for val_batchN pictures */
  onBatch?: (index: number, batch: TrainBatch, detections: readonly Float32Array[]) => void | Promise<void>;
}

/** Labels of image `b` as rows [cls, x1, y1, x2, y2] in pixels of the batch. */
export function pixelLabels(batch: TrainBatch, b: number): number[] {
  const t = batch.targets;
  const out: number[] = [];
  for (let r = 0; r < t.length; r += 6) {
    if (t[r] !== b) continue;
    const xc = t[r + 2] * batch.width,
      yc = t[r + 3] * batch.height,
      w = t[r + 4] * batch.width,
      h = t[r + 5] * batch.height;
    out.push(t[r + 1], xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2);
  }
  return out;
}

/** Validates `model` as it is (the caller loads the EMA weights first when it wants them). */
export async function validate(
  model: TrainableModel,
  batches: AsyncIterable<TrainBatch> | Iterable<TrainBatch>,
  opts: ValidateOptions = {},
): Promise<ValMetrics> {
  let acc = new MetricsAccumulator({ nc: model.nc });
  const loss = { box: 0, obj: 0, cls: 0 };
  let nBatches = 0,
    labels = 0;
  for await (const batch of batches) {
    opts.signal?.throwIfAborted();
    let items: [number, number, number] | null = null;
    const decoded = tf.tidy(() => {
      const x = tf.tensor4d(batch.images, [batch.batchSize, batch.height, batch.width, 3]);
      const raw = model.forward(x, { training: false });
      if (opts.hyp && opts.imgsz) {
        const l = computeLoss(
          raw,
          batch.targets,
          { nc: model.nc, anchors: model.anchors, strides: model.strides, imgsz: opts.imgsz },
          opts.hyp,
        );
        items = [l.lbox.dataSync()[0], l.lobj.dataSync()[0], l.lcls.dataSync()[0]];
      }
      return model.decode(raw);
    });
    const dets = nonMaxSuppression(decoded, {
      confThres: opts.confThres ?? 0.001,
      iouThres: opts.iouThres ?? 0.6,
      maxDet: opts.maxDet ?? 300,
    });
    decoded.dispose();
    for (let b = 0; b < batch.batchSize; b++) {
      const l = pixelLabels(batch, b);
      labels += l.length / 5;
      acc.add(dets[b], l);
    }
    if (opts.onBatch) await opts.onBatch(nBatches, batch, dets);
    const it = items as [number, number, number] | null;
    if (it) {
      loss.box += it[0];
      loss.obj += it[1];
      loss.cls += it[2];
    }
    nBatches++;
  }
  if (opts.gather) {
    const mine = acc.pack();
    const parts = await opts.gather(concat([Float32Array.of(nBatches, labels, loss.box, loss.obj, loss.cls), mine]));
    const all = new MetricsAccumulator({ nc: model.nc });
    nBatches = 0;
    labels = 0;
    loss.box = 0;
    loss.obj = 0;
    loss.cls = 0;
    for (const p of parts) {
      nBatches += p[0];
      labels += p[1];
      loss.box += p[2];
      loss.obj += p[3];
      loss.cls += p[4];
      all.addPacked(p.subarray(5));
    }
    acc = all;
  }
  const m = acc.compute();
  const n = Math.max(nBatches, 1);
  return {
    mp: m.mp,
    mr: m.mr,
    map50: m.map50,
    map: m.map,
    fitness: m.fitness,
    loss: { box: loss.box / n, obj: loss.obj / n, cls: loss.cls / n },
    images: m.images,
    labels,
    maps: classMaps(m.perClass, model.nc, m.map),
    stats: {
      labelsPerClass: m.labelsPerClass,
      ...(m.confusion ? { confusion: m.confusion } : {}),
      ...(m.curves ? { curves: m.curves } : {}),
    },
  };
}

/** val.py's maps: every class the mean mAP, then each class with labels its own AP@0.5:0.95. */
export function classMaps(perClass: ReadonlyArray<{ cls: number; ap50_95: number }>, nc: number, mean: number): number[] {
  const maps = new Array<number>(nc).fill(mean);
  for (const c of perClass) if (c.cls >= 0 && c.cls < nc) maps[c.cls] = c.ap50_95;
  return maps;
}

/** Runs `fn` with the EMA weights loaded into `model`, then puts the training weights back exactly. */
export async function withWeights<T>(model: TrainableModel, weights: Map<string, Float32Array>, fn: () => Promise<T>): Promise<T> {
  const saved = model.stateDict();
  model.loadStateDict(weights);
  try {
    return await fn();
  } finally {
    model.loadStateDict(saved);
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
