/** The YOLOv5 training loss: target assignment, CIoU, BCE terms and their gains. */
export { computeLoss, computePreparedLoss, gridsOf, lossGains, objBalance, prepareTargets } from './compute-loss.ts';
export type { LossGrid, LossHyp, LossMeta, LossResult, LossGains, PreparedTargets } from './compute-loss.ts';
export { buildTargets } from './build-targets.ts';
export type { LevelTargets, LevelGrid } from './build-targets.ts';
export { bboxCiou, stopGradient, detached } from './bbox-ciou.ts';
export { bceWithLogits } from './bce.ts';
export type { BceOptions } from './bce.ts';
export { gatherRows } from './gather-rows.ts';
