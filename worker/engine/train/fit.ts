/**
 * The epoch loop of one process: train every batch, validate the EMA after each epoch, append
 * results.csv, write weights/last.ckpt (and best.ckpt on a new best fitness), stop early on
 * patience, and resume from a checkpoint exactly where it was written (mid-epoch included).
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointContent, Json } from '../checkpoint/index.ts';
import { saveCheckpoint } from '../checkpoint/index.ts';
import { EarlyStopping } from './early-stop.ts';
import { appendResults } from './results-csv.ts';
import { restoreTrainer, trainerCheckpoint } from './state.ts';
import type { Trainer } from './trainer.ts';
import type { LossItems, TrainBatch, ValMetrics } from './types.ts';
import { validate, withWeights, type ValidateOptions } from './validate.ts';

/** A source of epochs of batches (the data loader fits). */
export interface BatchSource {
  /** batches per epoch */
  readonly length: number;
  epochBatches(epoch: number, from?: number): AsyncIterable<TrainBatch>;
}

export type FitEvent =
  | { type: 'batch'; epoch: number; index: number; batches: number; items: LossItems; mean: LossItems; lr: [number, number, number]; stepped: boolean }
  | { type: 'epoch'; epoch: number; epochs: number; train: LossItems; metrics: ValMetrics | null; lr: [number, number, number]; best: boolean }
  | { type: 'checkpoint'; path: string; kind: 'last' | 'best'; sha256: string }
  | { type: 'stop'; reason: 'done' | 'patience'; epoch: number };

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
  /** stored in every checkpoint's meta (cfg, nc, names, imgsz, data seed, hyp …) */
  meta?: { [k: string]: Json };
  /** a checkpoint written by fit to continue from */
  resume?: CheckpointContent;
  validateOptions?: ValidateOptions;
  signal?: AbortSignal;
  onEvent?: (e: FitEvent) => void;
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
  if (!f || typeof f.cursor?.epoch !== 'number') throw new Error('checkpoint has no training-loop state (meta.fit)');
  return f;
}

export async function fit(trainer: Trainer, opts: FitOptions): Promise<FitResult> {
  const epochs = trainer.opts.epochs;
  const emit = opts.onEvent ?? (() => {});
  const weightsDir = join(opts.saveDir, 'weights');
  const lastPath = join(weightsDir, 'last.ckpt'), bestPath = join(weightsDir, 'best.ckpt');
  const resultsPath = join(opts.saveDir, 'results.csv');
  const stopper = new EarlyStopping(opts.patience ?? 100);
  let st: FitState = { cursor: { epoch: 0, index: 0 }, lossSum: [0, 0, 0], lossCount: 0, bestFitness: 0, bestEpoch: 0 };
  if (opts.resume) {
    restoreTrainer(trainer, opts.resume);
    st = structuredClone(fitStateOf(opts.resume));
    stopper.bestFitness = st.bestFitness;
    stopper.bestEpoch = st.bestEpoch;
  }
  const save = (path: string, kind: 'last' | 'best'): string => {
    st.bestFitness = stopper.bestFitness;
    st.bestEpoch = stopper.bestEpoch;
    const sha256 = saveCheckpoint(path, trainerCheckpoint(trainer, { ...opts.meta, fit: st as unknown as Json }));
    emit({ type: 'checkpoint', path, kind, sha256 });
    return sha256;
  };

  let metrics: ValMetrics | null = null;
  let stoppedEarly = false;
  let epochsRun = 0;
  for (let epoch = st.cursor.epoch; epoch < epochs; epoch++) {
    trainer.counters.epoch = epoch;
    const nb = opts.train.length;
    let index = st.cursor.index;
    for await (const batch of opts.train.epochBatches(epoch, index)) {
      opts.signal?.throwIfAborted();
      const r = trainer.step(batch);
      st.lossSum = [st.lossSum[0] + r.items.box, st.lossSum[1] + r.items.obj, st.lossSum[2] + r.items.cls];
      st.lossCount += 1;
      index += 1;
      st.cursor = { epoch, index };
      const c = st.lossCount;
      emit({ type: 'batch', epoch, index: index - 1, batches: nb, items: r.items, mean: { box: st.lossSum[0] / c, obj: st.lossSum[1] / c, cls: st.lossSum[2] / c }, lr: r.lr, stepped: r.stepped });
      if (opts.saveEvery && trainer.counters.ni % opts.saveEvery === 0 && index < nb) save(lastPath, 'last');
    }
    const c = Math.max(st.lossCount, 1);
    const train: LossItems = { box: st.lossSum[0] / c, obj: st.lossSum[1] / c, cls: st.lossSum[2] / c };
    const lr = trainer.last.lr;
    const final = epoch + 1 === epochs;
    metrics = null;
    if (opts.val && (!opts.noVal || final)) {
      const val = opts.val;
      metrics = await withWeights(trainer.model, trainer.ema.state, () =>
        validate(trainer.model, val.epochBatches(0, 0), { hyp: trainer.opts.hyp, imgsz: trainer.opts.imgsz, signal: opts.signal, ...opts.validateOptions }));
    }
    const fi = metrics?.fitness ?? 0;
    const stop = stopper.update(epoch, fi);
    // as train.py: best.pt is written whenever this epoch's fitness ties or beats the best so far
    const best = stopper.bestEpoch === epoch;
    appendResults(resultsPath, [
      epoch, train.box, train.obj, train.cls,
      metrics?.mp ?? 0, metrics?.mr ?? 0, metrics?.map50 ?? 0, metrics?.map ?? 0,
      metrics?.loss.box ?? 0, metrics?.loss.obj ?? 0, metrics?.loss.cls ?? 0, lr[0], lr[1], lr[2],
    ]);
    emit({ type: 'epoch', epoch, epochs, train, metrics, lr, best });
    st = { ...st, cursor: { epoch: epoch + 1, index: 0 }, lossSum: [0, 0, 0], lossCount: 0 };
    trainer.counters.epoch = epoch + 1;
    const sha256 = save(lastPath, 'last');
    if (best) {
      copyFileSync(lastPath, bestPath);
      emit({ type: 'checkpoint', path: bestPath, kind: 'best', sha256 });
    }
    epochsRun++;
    if (stop) {
      stoppedEarly = true;
      emit({ type: 'stop', reason: 'patience', epoch });
      break;
    }
  }
  if (!stoppedEarly) emit({ type: 'stop', reason: 'done', epoch: epochs - 1 });
  return { epochsRun, bestFitness: stopper.bestFitness, bestEpoch: stopper.bestEpoch, metrics, stoppedEarly, lastPath, bestPath, resultsPath };
}
