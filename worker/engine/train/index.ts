/** Training: optimizer, schedules, EMA, the Trainer, validation and the epoch loop. */
export { NesterovSgd } from './optimizer.ts';
export { DeviceSgd, type DeviceStepScalars } from './device-sgd.ts';
export { DeviceEma } from './device-ema.ts';
export type { ParamGroupRange, SgdStepSettings } from './optimizer.ts';
export {
  MIN_WARMUP_ITERS,
  NOMINAL_BATCH,
  accumulateSteps,
  interp,
  iterationSettings,
  lrFactor,
  roundHalfEven,
  scaledWeightDecay,
  scheduledEpoch,
  warmupIters,
} from './schedule.ts';
export type { IterationSettings, LrKind, ScheduleConfig } from './schedule.ts';
export { EMA_DECAY, EMA_TAU, ModelEma, emaAveraged, emaDecay } from './ema.ts';
export type { EmaOptions } from './ema.ts';
export { clipGradNorm } from './clip.ts';
export { EarlyStopping, fitness } from './early-stop.ts';
export { freezePrefixes, isFrozen } from './freeze.ts';
export { ParamLayout, parameterGroups } from './params.ts';
export type { FlatEntry } from './params.ts';
export { Trainer } from './trainer.ts';
export type { StepInfo, TrainerCounters, TrainerOptions } from './trainer.ts';
export { CheckpointMismatchError, TRAIN_STATE_FORMAT, restoreTrainer, stateDictFrom, trainStateMeta, trainerCheckpoint } from './state.ts';
export type { TrainStateMeta } from './state.ts';
export type {
  KindedVariable,
  LossItems,
  NamedVariable,
  ParameterGroups,
  TensorKind,
  TrainBatch,
  TrainableModel,
  ValMetrics,
} from './types.ts';
export { fit, StepInterruptedError } from './fit.ts';
export { DEFAULT_NONFINITE_LIMIT, FiniteGuard, NonFiniteGradientError, allFinite } from './finite-guard.ts';
export type { BatchSource, FitEvent, FitHooks, FitOptions, FitPlots, FitResult, FitState } from './fit.ts';
export { RunSettingsError, ensureData, runSettingsMeta, runSettingsOf, setupRun, synthesize } from './run-setup.ts';
export type { RunSettings, RunSetup, SyntheticSpec } from './run-setup.ts';
export { pixelLabels, validate, withWeights } from './validate.ts';
export type { ValidateOptions } from './validate.ts';
export { RESULTS_COLUMNS, appendResults, formatG, resultsHeader, resultsRow, trimResults } from './results-csv.ts';
export { nextRunDir, trainSession, valSession } from './session.ts';
export type { SessionEvent, TrainSessionOptions, TrainSessionResult, ValSessionOptions } from './session.ts';
