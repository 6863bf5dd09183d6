/**
 * The pictures of a run, with train.py's names and content: results.png, PR_curve.png,
 * F1_curve.png, P_curve.png, R_curve.png, confusion_matrix.png, labels.jpg,
 * labels_correlogram.jpg, train_batch0..2.jpg, val_batch0..2_labels.jpg / _pred.jpg. Drawn as
 * SVG and rasterised with sharp; no browser, no canvas. The palette is fixed per class.
 */
import { join } from 'node:path';
import type { ConfusionMatrix, MetricCurves } from '../metrics/index.ts';
import { plotBatch, predictionBoxes, targetBoxes, type PictureBatch } from './batch.ts';
import { plotConfusionMatrix } from './confusion.ts';
import { plotMetricCurve, plotPrCurve } from './curves.ts';
import { flattenLabels, plotLabels, plotLabelsCorrelogram } from './labels.ts';
import { plotResults } from './results.ts';

export { classHex, classRgb, textOn, PALETTE_SIZE } from './palette.ts';
export { plotBatch, gridLayout, boxLineWidth, targetBoxes, predictionBoxes, MAX_SUBPLOTS, MIN_TILE, MAX_SIZE, PRED_CONF } from './batch.ts';
export type { GridLayout, PictureBatch, PictureBox } from './batch.ts';
export { plotConfusionMatrix, confusionLayout, normalisedColumns, blues } from './confusion.ts';
export type { ConfusionLayout } from './confusion.ts';
export { plotPrCurve, plotMetricCurve, CURVE_SIZE } from './curves.ts';
export { plotLabels, plotLabelsCorrelogram, classCounts, flattenLabels, MAX_POINTS } from './labels.ts';
export { plotResults, readResultsCsv, gaussianSmooth, RESULTS_PANELS, RESULTS_SIZE } from './results.ts';
export { writePicture, svgDoc, FONT } from './svg.ts';

/** How many train and val batches get a picture (train.py: the first three). */
export const PLOTTED_BATCHES = 3;

/** The pictures of the label set (before training): labels.jpg, labels_correlogram.jpg. */
export async function plotLabelSet(
  dir: string,
  perImage: ReadonlyArray<ArrayLike<number>>,
  nc: number,
  names: readonly string[],
): Promise<string[]> {
  const rows = flattenLabels(perImage);
  return [
    await plotLabels(rows, nc, names, join(dir, 'labels.jpg')),
    await plotLabelsCorrelogram(rows, join(dir, 'labels_correlogram.jpg')),
  ];
}

/** train_batch{index}.jpg: the augmented batch with its labels. */
export async function plotTrainBatch(dir: string, index: number, batch: PictureBatch, names: readonly string[]): Promise<string> {
  return plotBatch(batch, targetBoxes(batch), names, join(dir, `train_batch${index}.jpg`));
}

/** val_batch{index}_labels.jpg and val_batch{index}_pred.jpg: ground truth beside predictions. */
export async function plotValBatch(
  dir: string,
  index: number,
  batch: PictureBatch,
  detections: readonly ArrayLike<number>[],
  names: readonly string[],
): Promise<string[]> {
  return [
    await plotBatch(batch, targetBoxes(batch), names, join(dir, `val_batch${index}_labels.jpg`)),
    await plotBatch(batch, predictionBoxes(detections), names, join(dir, `val_batch${index}_pred.jpg`)),
  ];
}

/** The pictures of one validation: confusion_matrix.png, PR_curve.png, F1_curve.png, P_curve.png, R_curve.png. */
export async function plotValidation(
  dir: string,
  stats: { confusion?: ConfusionMatrix; curves?: MetricCurves },
  names: readonly string[],
): Promise<string[]> {
  const out: string[] = [];
  if (stats.confusion) out.push(await plotConfusionMatrix(stats.confusion, names, join(dir, 'confusion_matrix.png')));
  out.push(await plotPrCurve(stats.curves, names, join(dir, 'PR_curve.png')));
  out.push(await plotMetricCurve(stats.curves, names, 'f1', join(dir, 'F1_curve.png')));
  out.push(await plotMetricCurve(stats.curves, names, 'p', join(dir, 'P_curve.png')));
  out.push(await plotMetricCurve(stats.curves, names, 'r', join(dir, 'R_curve.png')));
  return out;
}

/** results.png from the run's results.csv. */
export async function plotResultsCsv(dir: string, csvFile: string): Promise<string> {
  return plotResults(csvFile, join(dir, 'results.png'));
}
