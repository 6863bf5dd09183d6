/**
 * A trainer's full state as checkpoint content, and back:
 *   model/<name>  the model state dict (parameters, BN buffers, anchors)
 *   ema/<name>    the EMA state dict
 *   optim/velocity, optim/accumulated   flat momentum buffers and the pending gradient sum
 * and in `meta.train` the counters and the parameter layout they were written with.
 */
import { stored, type CheckpointContent, type Json, type StoredTensor } from '../checkpoint/index.ts';
import { DeviceAdam } from './device-adam.ts';
import type { Trainer, TrainerCounters } from './trainer.ts';
import { EngineError } from '../errors.ts';

export const TRAIN_STATE_FORMAT = 'flotilla.train/1';

export class CheckpointMismatchError extends EngineError {
  override name = 'CheckpointMismatchError';
  readonly retryable = false;
}

/** The trainer part of the checkpoint meta. */
export interface TrainStateMeta {
  format: string;
  counters: TrainerCounters;
  emaUpdates: number;
  velocityInitialized: boolean;
  /** Adam/AdamW: the optimizer and its step count (optim/velocity is then the first moment, optim/exp_avg_sq the second) */
  adam?: { kind: string; steps: number };
  /** parameter names in flat-layout order */
  layout: string[];
}

/** Checkpoint content for `trainer`, with `meta` merged in (epoch, cursor, hyp, … chosen by the caller). */
export function trainerCheckpoint(trainer: Trainer, meta: { [k: string]: Json } = {}): CheckpointContent {
  const tensors = new Map<string, StoredTensor>();
  for (const [k, v] of trainer.model.stateDict()) tensors.set(`model/${k}`, stored(v));
  // the EMA and the momentum live on the backend: one read each (fresh arrays)
  for (const [k, v] of trainer.ema.state) tensors.set(`ema/${k}`, stored(v));
  tensors.set('optim/velocity', stored(trainer.optimizer.velocity));
  tensors.set('optim/accumulated', stored(Float32Array.from(trainer.accumulated)));
  const opt = trainer.optimizer;
  if (opt instanceof DeviceAdam) tensors.set('optim/exp_avg_sq', stored(opt.secondMoment));
  const train: TrainStateMeta = {
    format: TRAIN_STATE_FORMAT,
    counters: { ...trainer.counters },
    emaUpdates: trainer.ema.updates,
    velocityInitialized: trainer.optimizer.initialized,
    layout: trainer.layout.names(),
    ...(opt instanceof DeviceAdam ? { adam: { kind: opt.kind, steps: opt.steps } } : {}),
  };
  return { tensors, meta: { ...meta, train: train as unknown as Json } };
}

/** The state dict stored under `prefix` ('model/' or 'ema/'). */
export function stateDictFrom(content: CheckpointContent, prefix: 'model/' | 'ema/'): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of content.tensors) {
    if (!k.startsWith(prefix)) continue;
    if (!(t.data instanceof Float32Array)) throw new CheckpointMismatchError(`${k} is ${t.dtype}, expected F32`);
    out.set(k.slice(prefix.length), t.data);
  }
  return out;
}

export function trainStateMeta(content: CheckpointContent): TrainStateMeta {
  const m = content.meta.train as unknown as TrainStateMeta | undefined;
  if (!m || m.format !== TRAIN_STATE_FORMAT)
    throw new CheckpointMismatchError(`not a training checkpoint (format ${m?.format ?? 'missing'})`);
  return m;
}

/**
 * Loads everything a trainer needs to continue exactly where `content` was written: model and
 * EMA weights, momentum, pending accumulated gradient and counters.
 */
export function restoreTrainer(trainer: Trainer, content: CheckpointContent): void {
  const m = trainStateMeta(content);
  const names = trainer.layout.names();
  if (m.layout.length !== names.length || m.layout.some((n, i) => n !== names[i])) {
    throw new CheckpointMismatchError('the checkpoint was written for another parameter layout (model, or --freeze, differs)');
  }
  trainer.model.loadStateDict(stateDictFrom(content, 'model/'));
  try {
    trainer.ema.load(stateDictFrom(content, 'ema/'));
  } catch (e) {
    throw new CheckpointMismatchError(`checkpoint ${(e as Error).message}`);
  }
  trainer.ema.updates = m.emaUpdates;
  const flat = (name: string): Float32Array => {
    const t = content.tensors.get(name);
    if (!t || !(t.data instanceof Float32Array) || t.data.length !== trainer.layout.size) {
      throw new CheckpointMismatchError(`${name} missing or not ${trainer.layout.size} float32 values`);
    }
    return t.data;
  };
  const opt = trainer.optimizer;
  const kind = opt instanceof DeviceAdam ? opt.kind : 'SGD';
  if (kind !== (m.adam?.kind ?? 'SGD'))
    throw new CheckpointMismatchError(`the checkpoint was written by the ${m.adam?.kind ?? 'SGD'} optimizer, this run uses ${kind}`);
  if (opt instanceof DeviceAdam) {
    opt.loadSecondMoment(flat('optim/exp_avg_sq'));
    opt.steps = m.adam?.steps ?? 0;
  }
  trainer.optimizer.loadVelocity(flat('optim/velocity'));
  trainer.optimizer.initialized = m.velocityInitialized;
  trainer.accumulated.set(flat('optim/accumulated'));
  Object.assign(trainer.counters, m.counters);
}
