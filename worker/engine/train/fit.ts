/**
 * The one training loop, for one process and for every rank of a cluster job: train every
 * batch, validate the EMA after each epoch, append results.csv, write weights/last.ckpt (and
 * best.ckpt on a new best fitness), stop early on patience, and resume from a checkpoint
 * exactly where it was written (mid-epoch included). What a cluster adds comes in as hooks
 * (Lightning-style): `reduceGradients` sums each batch's gradient over the ranks before it is
 * applied, `gather` brings the validation statistics of the ranks' shards together, `leader` says
 * which rank writes files, and `onEvent` (awaited) is where checkpoints, results and metrics
 * leave the process.
 * Over 300 lines: the one training loop (its epoch, step, validation and checkpoint phases share the loop's state).
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { CheckpointContent, Json } from '../checkpoint/index.ts';
import type { SyncComm, SyncStrategy } from '../sync/index.ts';
import { trainerSyncTarget } from '../sync/index.ts';
import { saveCheckpoint } from '../checkpoint/index.ts';
import { endKernelStep, withoutKernelPool } from '../backend.ts';
import { PLOTTED_BATCHES, plotLabelSet, plotResultsCsv, plotTrainBatch, plotValBatch, plotValidation } from '../plots/index.ts';
import { EarlyStopping } from './early-stop.ts';
import { DEFAULT_NONFINITE_LIMIT, FiniteGuard } from './finite-guard.ts';
import { appendResults, trimResults } from './results-csv.ts';
import { CheckpointMismatchError, restoreTrainer, trainerCheckpoint } from './state.ts';
import type { Trainer } from './trainer.ts';
import type { LossItems, TrainBatch, ValMetrics } from './types.ts';
import { validate, withWeights, type ValidateOptions } from './validate.ts';
import { EngineError } from '../errors.ts';
import { epochClassWeights, imageWeights } from '../data/image-weights.ts';
import { multiScaleBatch, type MultiScale } from './multi-scale.ts';

/**
 * The gradient sum of a step failed (`cause`: what reduceGradients threw): nothing of that step
 * was applied, and `state` is the trainer's state as it was before it (BatchNorm statistics
 * moved by its forward pass are put back), with the loop state: `fit(…, { resume: state })`
 * continues with that step, bit for bit as if it had never been tried.
 */
export class StepInterruptedError extends EngineError {
  override name = 'StepInterruptedError';
  readonly retryable = true;
  constructor(
    readonly state: CheckpointContent,
    readonly step: number,
    options: { cause: unknown },
  ) {
    super(`step ${step + 1} interrupted: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`, options);
  }
}

/** A source of epochs of batches (the data loader fits). */
export interface BatchSource {
  /** batches per epoch */
  readonly length: number;
  epochBatches(epoch: number, from?: number): AsyncIterable<TrainBatch>;
  /** draws epoch `epoch` with replacement by these per-image weights (needed by `imageWeights`) */
  setImageWeights?(epoch: number, weights: Float64Array | null): void;
}

/** `step` is the trainer's integrated batch counter after the event (ni: batches trained so far). */
export type FitEvent =
  | {
      type: 'batch';
      epoch: number;
      index: number;
      batches: number;
      step: number;
      items: LossItems;
      mean: LossItems;
      lr: [number, number, number];
      stepped: boolean;
    }
  | {
      type: 'epoch';
      epoch: number;
      epochs: number;
      step: number;
      train: LossItems;
      metrics: ValMetrics | null;
      lr: [number, number, number];
      best: boolean;
      resultsPath: string;
    }
  | { type: 'checkpoint'; path: string; kind: 'last' | 'best' | 'epoch'; sha256: string; step: number; epoch: number; epochEnd: boolean }
  | { type: 'stop'; reason: 'done' | 'patience'; epoch: number }
  /** pictures written (or rewritten) into the run folder in `ms`; `error`: drawing failed, training goes on */
  | { type: 'plots'; files: string[]; ms: number; error?: string }
  /** batch `index` was not applied: its (summed) gradient held NaN/Inf; `skipped` counts such steps of this fit */
  | { type: 'skip'; epoch: number; index: number; step: number; consecutive: number; skipped: number };

/** Options of {@link fit}; defaults as train.py. */
export interface FitOptions {
  train: BatchSource;
  /** validation batches (the val loader); absent: no validation, fitness 0 */
  val?: BatchSource;
  /** run folder: results.csv and weights/{last,best}.ckpt */
  saveDir: string;
  /** epochs without fitness improvement before stopping; default 100, 0 never stops */
  patience?: number;
  /** validate only after the final epoch (--noval); default false */
  noVal?: boolean;
  /** also write last.ckpt every this many iterations; default 0 (epoch ends only) */
  saveEvery?: number;
  /**
   * train.py --save-period: also keep weights/epoch{N}.ckpt after every epoch N (0-based) with
   * N % savePeriod == 0; default 0 (none)
   */
  savePeriod?: number;
  /** stored in every checkpoint's meta (cfg, nc, names, imgsz, data seed, hyp …) */
  meta?: { [k: string]: Json };
  /** a checkpoint written by fit to continue from */
  resume?: CheckpointContent;
  validateOptions?: ValidateOptions;
  signal?: AbortSignal;
  /** awaited after each event; an error thrown here ends fit */
  onEvent?: (e: FitEvent) => void | Promise<void>;
  /** what a cluster plugs in; absent: one process */
  hooks?: FitHooks;
  /** draw train.py's pictures into saveDir (leader only); absent: none */
  plots?: FitPlots;
  /**
   * non-finite gradients in a row that end training with a NonFiniteGradientError (default 5);
   * fewer are skipped: the step is not applied (the same on every rank: the check follows the allreduce)
   */
  nonFiniteLimit?: number;
  /** train.py --multi-scale: each batch resized to a size drawn in [0.5, 1.5]·img from (seed, epoch, batch) */
  multiScale?: MultiScale;
  /**
   * train.py --image-weights: before every epoch the train source gets per-image weights from the
   * training labels (rows [cls, xc, yc, w, h] per image), the class counts and the last validation's
   * per-class mAP (kept in the checkpoint, so a resume draws the same)
   */
  imageWeights?: { labels: ReadonlyArray<ArrayLike<number>>; nc: number };
}

/** The cluster's part of the loop (every rank calls fit with the same options and its own shard). */
export interface FitHooks {
  /** sums a batch's gradient over the ranks in place (the allreduce) before it is applied */
  reduceGradients?(grads: Float32Array): Promise<void>;
  /** every rank's array, indexed by rank (an allgather): with it, `val` is this rank's shard of the validation set */
  gather?(values: Float32Array): Promise<Float32Array[]>;
  /** whether this rank writes results.csv and the checkpoints; default true */
  leader?: boolean;
  /** asked after every step on the leader: true writes last.ckpt of this step now (a drain) */
  checkpointNow?(): boolean;
  /** awaited before each batch, with its step (the `step` its batch event will carry) */
  beforeStep?(step: number): Promise<void>;
  /**
   * the sync strategy (engine/sync, docs/sync.md) and the ranks it exchanges with: called after
   * every optimizer step with the replica and at every epoch end (a full sync before validation);
   * its state goes into every checkpoint. The gradient still goes through `reduceGradients`
   * (an actor calls the strategy's afterBackward there). Absent: nothing after the step.
   */
  sync?: { strategy: SyncStrategy; comm: SyncComm };
}

/**
 * What the pictures need besides the loop's own data: class names and, for labels.jpg (drawn
 * before the first step of a run that does not resume), the training labels per image.
 */
export interface FitPlots {
  names: readonly string[];
  /** rows [cls, xc, yc, w, h] (normalised) of every training image */
  labels?: ReadonlyArray<ArrayLike<number>>;
}

/** Loop state saved in `meta.fit`. */
export interface FitState {
  /** the next batch to train: batch `index` of epoch `epoch` */
  cursor: { epoch: number; index: number };
  /** running sums of the current epoch's loss items and their count */
  lossSum: [number, number, number];
  lossCount: number;
  bestFitness: number;
  bestEpoch: number;
  /** per-class mAP@0.5:0.95 of the last validation (image weights read it); absent before the first */
  maps?: number[];
}

export interface FitResult {
  epochsRun: number;
  bestFitness: number;
  bestEpoch: number;
  /** metrics of the last validation */
  metrics: ValMetrics | null;
  stoppedEarly: boolean;
  lastPath: string;
  bestPath: string;
  resultsPath: string;
}

function fitStateOf(content: CheckpointContent): FitState {
  const f = content.meta.fit as unknown as FitState | undefined;
  if (!f || typeof f.cursor?.epoch !== 'number') throw new CheckpointMismatchError('checkpoint has no training-loop state (meta.fit)');
  return f;
}

export async function fit(trainer: Trainer, opts: FitOptions): Promise<FitResult> {
  const epochs = trainer.opts.epochs;
  const emit = async (e: FitEvent): Promise<void> => {
    await opts.onEvent?.(e);
  };
  const hooks = opts.hooks ?? {};
  const leader = hooks.leader ?? true;
  const weightsDir = join(opts.saveDir, 'weights');
  const lastPath = join(weightsDir, 'last.ckpt'),
    bestPath = join(weightsDir, 'best.ckpt');
  const resultsPath = join(opts.saveDir, 'results.csv');
  const stopper = new EarlyStopping(opts.patience ?? 100);
  const guard = new FiniteGuard(
    'lower the learning rate (hyp lr0) or check the dataset for broken images and labels',
    opts.nonFiniteLimit ?? DEFAULT_NONFINITE_LIMIT,
  );
  let st: FitState = { cursor: { epoch: 0, index: 0 }, lossSum: [0, 0, 0], lossCount: 0, bestFitness: 0, bestEpoch: 0 };
  if (opts.resume) {
    restoreTrainer(trainer, opts.resume);
    st = structuredClone(fitStateOf(opts.resume));
    stopper.bestFitness = st.bestFitness;
    stopper.bestEpoch = st.bestEpoch;
    if (leader) trimResults(resultsPath, st.cursor.epoch);
  }
  const sync = hooks.sync;
  const syncTarget = sync && trainerSyncTarget(trainer);
  if (sync && syncTarget) {
    if (opts.resume) sync.strategy.readState(opts.resume);
    sync.strategy.begin(syncTarget);
  }
  const content = (): CheckpointContent => {
    const c = trainerCheckpoint(trainer, { ...opts.meta, fit: structuredClone(st) as unknown as Json });
    sync?.strategy.writeState(c);
    return c;
  };
  const save = async (path: string, kind: 'last' | 'best', epochEnd: boolean): Promise<string> => {
    st.bestFitness = stopper.bestFitness;
    st.bestEpoch = stopper.bestEpoch;
    const sha256 = saveCheckpoint(path, content());
    await emit({ type: 'checkpoint', path, kind, sha256, step: trainer.counters.ni, epoch: st.cursor.epoch, epochEnd });
    return sha256;
  };

  // a step whose sum fails must leave no trace: its forward pass moved the BatchNorm statistics
  const bnBuffers = trainer.model.namedTensors().filter((t) => t.kind === 'runningMean' || t.kind === 'runningVar');
  const interrupted = (cause: unknown, before: tf.Tensor[]): StepInterruptedError => {
    bnBuffers.forEach((t, i) => t.variable.assign(before[i]));
    return syncInterrupted(cause);
  };
  // an outer sync that fails: the inner step stays applied, the sync is due again at the next step
  const syncInterrupted = (cause: unknown): StepInterruptedError => {
    st.bestFitness = stopper.bestFitness;
    st.bestEpoch = stopper.bestEpoch;
    return new StepInterruptedError(content(), trainer.counters.ni, { cause });
  };

  const plots = leader ? opts.plots : undefined;
  const nc = trainer.model.nc;
  // a picture that cannot be drawn costs the picture, never the run
  const draw = async (what: () => Promise<string | string[]>): Promise<void> => {
    let files: string[];
    const t0 = performance.now();
    try {
      const f = await what();
      files = Array.isArray(f) ? f : [f];
    } catch (e) {
      await emit({ type: 'plots', files: [], ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    await emit({ type: 'plots', files, ms: performance.now() - t0 });
  };
  if (plots?.labels && !opts.resume) await draw(() => plotLabelSet(opts.saveDir, plots.labels!, nc, plots.names));

  let metrics: ValMetrics | null = null;
  let stoppedEarly = false;
  let epochsRun = 0;
  for (let epoch = st.cursor.epoch; epoch < epochs; epoch++) {
    trainer.counters.epoch = epoch;
    const nb = opts.train.length;
    let index = st.cursor.index;
    if (opts.imageWeights) {
      const { labels, nc: classes } = opts.imageWeights;
      if (!opts.train.setImageWeights) throw new Error('image weights need a train source that takes them (the data loader)');
      opts.train.setImageWeights(epoch, imageWeights(labels, epochClassWeights(labels, classes, st.maps)));
    }
    for await (const loaded of opts.train.epochBatches(epoch, index)) {
      opts.signal?.throwIfAborted();
      const batch = opts.multiScale ? multiScaleBatch(loaded, opts.multiScale, epoch, index) : loaded;
      if (hooks.beforeStep) {
        await hooks.beforeStep(trainer.counters.ni + 1);
        opts.signal?.throwIfAborted();
      }
      const before = bnBuffers.map((t) => tf.clone(t.variable));
      const { grads, items } = trainer.computeGradients(batch);
      endKernelStep();
      let finite: boolean;
      try {
        if (hooks.reduceGradients) {
          try {
            await hooks.reduceGradients(grads);
          } catch (e) {
            throw interrupted(e, before);
          }
          opts.signal?.throwIfAborted(); // a step whose sum was interrupted is not applied
        }
        finite = guard.check(grads, trainer.counters.ni + 1);
        // nothing of a skipped step stays: not even the BatchNorm statistics its forward pass moved
        if (!finite) bnBuffers.forEach((t, i) => t.variable.assign(before[i]));
      } finally {
        tf.dispose(before);
      }
      if (!finite) {
        // not applied on any rank (they all hold the same sum); the batch is used up all the same
        trainer.skipBatch();
        index += 1;
        st.cursor = { epoch, index };
        await emit({
          type: 'skip',
          epoch,
          index: index - 1,
          step: trainer.counters.ni,
          consecutive: guard.consecutive,
          skipped: guard.skipped,
        });
        continue;
      }
      const r = trainer.applyGradients(grads);
      st.lossSum = [st.lossSum[0] + items.box, st.lossSum[1] + items.obj, st.lossSum[2] + items.cls];
      st.lossCount += 1;
      index += 1;
      st.cursor = { epoch, index };
      if (sync && syncTarget && r.stepped) {
        try {
          await sync.strategy.afterStep(syncTarget, trainer.counters.optimizerSteps, sync.comm);
        } catch (e) {
          throw syncInterrupted(e);
        }
        opts.signal?.throwIfAborted();
      }
      const c = st.lossCount;
      await emit({
        type: 'batch',
        epoch,
        index: index - 1,
        batches: nb,
        step: trainer.counters.ni,
        items,
        mean: { box: st.lossSum[0] / c, obj: st.lossSum[1] / c, cls: st.lossSum[2] / c },
        lr: r.lr,
        stepped: r.stepped,
      });
      // as train.py: the run's first three batches, augmented, with their labels
      if (plots && epoch === 0 && index - 1 < PLOTTED_BATCHES)
        await draw(() => plotTrainBatch(opts.saveDir, index - 1, batch, plots.names));
      const periodic = Boolean(opts.saveEvery) && trainer.counters.ni % opts.saveEvery! === 0 && index < nb;
      if (leader && (periodic || hooks.checkpointNow?.())) await save(lastPath, 'last', false);
    }
    const c = Math.max(st.lossCount, 1);
    const train: LossItems = { box: st.lossSum[0] / c, obj: st.lossSum[1] / c, cls: st.lossSum[2] / c };
    const lr = trainer.last.lr;
    const final = epoch + 1 === epochs;
    if (sync && syncTarget) {
      // every rank validates and checkpoints the same replica
      try {
        await sync.strategy.flush(syncTarget, trainer.counters.optimizerSteps, sync.comm);
      } catch (e) {
        throw syncInterrupted(e);
      }
      opts.signal?.throwIfAborted();
    }
    metrics = null;
    if (opts.val && (!opts.noVal || final)) {
      const val = opts.val;
      const vo: ValidateOptions = {
        hyp: trainer.opts.hyp,
        imgsz: trainer.opts.imgsz,
        signal: opts.signal,
        ...opts.validateOptions,
        ...(hooks.gather ? { gather: hooks.gather } : {}),
      };
      // the final validation draws its first batches with labels and predictions (this rank's shard)
      if (plots && final) {
        vo.onBatch = async (i, b, dets) => {
          if (i < PLOTTED_BATCHES) await draw(() => plotValBatch(opts.saveDir, i, b, dets, plots.names));
        };
      }
      // training's buffers are not validation's shapes, nor the other way round: keep neither through the other,
      // and none during it (each eval output has its own length: the lists would hold the whole forward pass)
      metrics = await withoutKernelPool(() =>
        withWeights(trainer.model, trainer.ema.state, () => validate(trainer.model, val.epochBatches(0, 0), vo)),
      );
      if (metrics.maps) st.maps = metrics.maps;
      const stats = metrics.stats;
      if (plots && stats) await draw(() => plotValidation(opts.saveDir, stats, plots.names));
    }
    const fi = metrics?.fitness ?? 0;
    const stop = stopper.update(epoch, fi);
    // as train.py: best.pt is written whenever this epoch's fitness ties or beats the best so far
    const best = stopper.bestEpoch === epoch;
    if (leader) {
      appendResults(resultsPath, [
        epoch,
        train.box,
        train.obj,
        train.cls,
        metrics?.mp ?? 0,
        metrics?.mr ?? 0,
        metrics?.map50 ?? 0,
        metrics?.map ?? 0,
        metrics?.loss.box ?? 0,
        metrics?.loss.obj ?? 0,
        metrics?.loss.cls ?? 0,
        lr[0],
        lr[1],
        lr[2],
      ]);
    }
    if (plots) await draw(() => plotResultsCsv(opts.saveDir, resultsPath));
    await emit({ type: 'epoch', epoch, epochs, step: trainer.counters.ni, train, metrics, lr, best, resultsPath });
    st = { ...st, cursor: { epoch: epoch + 1, index: 0 }, lossSum: [0, 0, 0], lossCount: 0 };
    trainer.counters.epoch = epoch + 1;
    if (leader) {
      const sha256 = await save(lastPath, 'last', true);
      if (best) {
        copyFileSync(lastPath, bestPath);
        await emit({
          type: 'checkpoint',
          path: bestPath,
          kind: 'best',
          sha256,
          step: trainer.counters.ni,
          epoch: epoch + 1,
          epochEnd: true,
        });
      }
      if (opts.savePeriod && opts.savePeriod > 0 && epoch % opts.savePeriod === 0) {
        const periodPath = join(weightsDir, `epoch${epoch}.ckpt`);
        copyFileSync(lastPath, periodPath);
        await emit({
          type: 'checkpoint',
          path: periodPath,
          kind: 'epoch',
          sha256,
          step: trainer.counters.ni,
          epoch: epoch + 1,
          epochEnd: true,
        });
      }
    }
    epochsRun++;
    if (stop) {
      stoppedEarly = true;
      await emit({ type: 'stop', reason: 'patience', epoch });
      break;
    }
  }
  if (!stoppedEarly) await emit({ type: 'stop', reason: 'done', epoch: epochs - 1 });
  return {
    epochsRun,
    bestFitness: stopper.bestFitness,
    bestEpoch: stopper.bestEpoch,
    metrics,
    stoppedEarly,
    lastPath,
    bestPath,
    resultsPath,
  };
}
