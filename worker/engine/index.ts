/**
 * The YOLOv5 engine on TensorFlow.js: its public surface, named. Each folder's own index holds
 * the full list; this one picks what a trainer actor, the CLI and the demo use.
 * The engine imports nothing of the platform (head/, shared/).
 */
export { EngineError } from './errors.ts';
export { initBackend, BACKENDS } from './backend.ts';
export type { BackendInfo, BackendName, BackendOptions } from './backend.ts';
export { Hyp, loadHyp } from './hyp/index.ts';
export { buildModel, YoloModel, loadModelYaml, BUILTIN_CFGS, ModelConfigError, StateDictError, formatSummary } from './model/index.ts';
export type { BuildOptions, ForwardOptions, ModelYaml, ModelSummary } from './model/index.ts';
export { computeLoss } from './loss/index.ts';
export type { LossHyp, LossMeta, LossResult } from './loss/index.ts';
export { ConfusionMatrix, MetricsAccumulator, nonMaxSuppression, fitness } from './metrics/index.ts';
export type { MetricCurves, NmsOptions, ValidationMetrics, Detections } from './metrics/index.ts';
export { createLoader, generateSyntheticDataset, loadDataset, Rng, batchesPerEpoch } from './data/index.ts';
export type {
  Batch,
  Loader,
  LoaderCursor,
  LoaderOptions,
  LoaderState,
  SyntheticOptions,
  SyntheticDataset,
  YoloDataset,
} from './data/index.ts';
export {
  CheckpointFormatError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  sha256,
  stored,
} from './checkpoint/index.ts';
export type { CheckpointContent, DType, Json, StoredTensor, TensorData } from './checkpoint/index.ts';
export {
  CheckpointMismatchError,
  EarlyStopping,
  ModelEma,
  NesterovSgd,
  Trainer,
  fit,
  restoreTrainer,
  stateDictFrom,
  trainSession,
  trainerCheckpoint,
  trainStateMeta,
  validate,
  valSession,
  withWeights,
  RESULTS_COLUMNS,
  accumulateSteps,
  iterationSettings,
  lrFactor,
} from './train/index.ts';
export type {
  BatchSource,
  FitEvent,
  FitOptions,
  FitResult,
  LossItems,
  SessionEvent,
  StepInfo,
  TrainBatch,
  TrainableModel,
  TrainerCounters,
  TrainerOptions,
  TrainSessionOptions,
  TrainSessionResult,
  ValMetrics,
  ValSessionOptions,
  ValidateOptions,
} from './train/index.ts';
export {
  classHex,
  classRgb,
  textOn,
  plotBatch,
  plotLabelSet,
  plotResultsCsv,
  plotTrainBatch,
  plotValBatch,
  plotValidation,
  PLOTTED_BATCHES,
} from './plots/index.ts';
export type { PictureBatch, PictureBox } from './plots/index.ts';
