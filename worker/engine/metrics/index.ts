/** Validation: NMS, detection matching, per-class AP/P/R, mAP and fitness (float64). */
export { boxIou, bboxCiou, iouXyxy, xywhToXyxy } from './box-iou.ts';
export type { Box } from './box-iou.ts';
export { nonMaxSuppression } from './nms.ts';
export type { Detections, NmsOptions } from './nms.ts';
export { matchDetections, IOU_THRESHOLDS } from './match-detections.ts';
export { apPerClass, computeAp, interp, linspace, smooth, roundHalfEven } from './ap-per-class.ts';
export type { ClassMetrics, MetricCurves } from './ap-per-class.ts';
export { ConfusionMatrix, CONFUSION_CONF, CONFUSION_IOU } from './confusion.ts';
export { MetricsAccumulator, fitness } from './accumulator.ts';
export type { AccumulatorOptions, ValidationMetrics, ClassResult } from './accumulator.ts';
