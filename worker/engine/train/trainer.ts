/**
 * One training replica: forward/backward on a batch, gradient accumulation to the nominal
 * batch, clipping, Nesterov SGD with warmup, and the EMA, with the flat gradient exposed between
 * backward and the optimizer step so a data-parallel actor can allreduce it:
 *
 *   const { grads, items } = trainer.computeGradients(batch);
 *   await allreduceSum(grads);          // in place; see README: ranks SUM, as DDP with loss·WORLD_SIZE
 *   trainer.applyGradients(grads);
 *
 * The step stays on the backend except for what must cross (docs/gpu.md, "The step on the
 * device"): the batch goes up, the flat gradient and the loss items come back in ONE read, and
 * an optimizer step sends the accumulated, clipped gradient with the step's scalars (lr, decay,
 * momentum, EMA decay) up in ONE write. Parameters, momentum, the EMA and the BatchNorm running
 * statistics never leave the backend during training.
 */
import * as tf from '@tensorflow/tfjs';
import type { Hyp } from '../hyp/index.ts';
import { flatMath } from '../../native/index.ts';
import { installDeviceGradients } from '../device-gradients.ts';
import { computeLoss, computePreparedLoss, prepareTargets, type LossGrid } from '../loss/index.ts';
import { clipGradNorm } from './clip.ts';
import { DeviceEma } from './device-ema.ts';
import { DeviceAdam } from './device-adam.ts';
import { DeviceSgd } from './device-sgd.ts';
import { onHostBackend } from './host-values.ts';
import { freezePrefixes } from './freeze.ts';
import { ParamLayout, parameterGroups } from './params.ts';
import {
  NOMINAL_BATCH,
  accumulateSteps,
  iterationSettings,
  scaledWeightDecay,
  warmupIters,
  type LrKind,
  type ScheduleConfig,
} from './schedule.ts';
import type { LossItems, TrainBatch, TrainableModel } from './types.ts';

/** Trainer options; defaults are train.py's. */
export interface TrainerOptions {
  hyp: Hyp;
  /** total epochs (the lr schedule spans them) */
  epochs: number;
  /** batch size of one iteration summed over all ranks */
  batchSize: number;
  /** iterations per epoch (nb), for the warmup length */
  batchesPerEpoch: number;
  /** training image size, scales the objectness gain */
  imgsz: number;
  /** lr schedule, default 'linear' (train.py --cos-lr gives 'cosine') */
  lrKind?: LrKind;
  /** --freeze: [N] freezes layers 0..N−1, several numbers freeze those layers; default none */
  freeze?: number[];
  /** clip_grad_norm_ max_norm, default 10; 0 disables */
  maxGradNorm?: number;
  /** nominal batch size, default 64 */
  nbs?: number;
  /** train.py --optimizer: 'SGD' (Nesterov, default), 'Adam' or 'AdamW' (betas (momentum, 0.999)); same parameter groups */
  optimizer?: OptimizerKind;
}

export type OptimizerKind = 'SGD' | 'Adam' | 'AdamW';

/** The counters a checkpoint must carry to continue exactly. */
export interface TrainerCounters {
  /** current epoch (0-based) */
  epoch: number;
  /** integrated batches done (ni of train.py for the next batch) */
  ni: number;
  /** ni of the last optimizer step (−1 before the first) */
  lastOptStep: number;
  /** optimizer steps taken */
  optimizerSteps: number;
}

export interface StepInfo {
  /** whether this iteration ended with an optimizer step */
  stepped: boolean;
  /** learning rates of groups 0 biases, 1 weights, 2 BN weights used by this iteration */
  lr: [number, number, number];
  momentum: number;
  /** gradient norm before clipping, when stepped */
  gradNorm?: number;
}

const f32 = Math.fround;

/** Scalars that follow the gradient in an optimizer step's upload: lr ×3, weight decay ×3, momentum, EMA d, 1 − d. */
const STEP_SCALARS = 9;

export class Trainer {
  readonly layout: ParamLayout;
  readonly optimizer: DeviceSgd | DeviceAdam;
  readonly ema: DeviceEma;
  /** the current batch's gradient, in layout order: the buffer to allreduce */
  readonly grads: Float32Array;
  /** gradients summed since the last optimizer step (the head of the step upload) */
  readonly accumulated: Float32Array;
  readonly schedule: ScheduleConfig;
  readonly weightDecay: number;
  readonly counters: TrainerCounters = { epoch: 0, ni: 0, lastOptStep: -1, optimizerSteps: 0 };
  /** [accumulated gradient | STEP_SCALARS]: what an optimizer step writes to the backend, once */
  private readonly upload: Float32Array;
  private lastSettings: StepInfo = { stepped: false, lr: [0, 0, 0], momentum: 0 };

  constructor(
    readonly model: TrainableModel,
    readonly opts: TrainerOptions,
  ) {
    const h = opts.hyp;
    installDeviceGradients();
    this.layout = new ParamLayout(parameterGroups(model.namedTensors()), freezePrefixes(opts.freeze ?? []));
    const kind = opts.optimizer ?? 'SGD';
    this.optimizer =
      kind === 'SGD'
        ? new DeviceSgd(this.layout.entries, this.layout.size, this.layout.ranges)
        : new DeviceAdam(this.layout.entries, this.layout.size, this.layout.ranges, kind, h.momentum);
    this.ema = new DeviceEma(model);
    this.grads = new Float32Array(this.layout.size);
    this.upload = new Float32Array(this.layout.size + STEP_SCALARS);
    this.accumulated = this.upload.subarray(0, this.layout.size);
    const nbs = opts.nbs ?? NOMINAL_BATCH;
    this.weightDecay = scaledWeightDecay(h.weight_decay, opts.batchSize, nbs);
    this.schedule = {
      kind: opts.lrKind ?? 'linear',
      epochs: opts.epochs,
      lr0: h.lr0,
      lrf: h.lrf,
      momentum: h.momentum,
      warmupMomentum: h.warmup_momentum,
      warmupBiasLr: h.warmup_bias_lr,
      nw: warmupIters(h.warmup_epochs, opts.batchesPerEpoch),
      batchesPerEpoch: opts.batchesPerEpoch,
      batchSize: opts.batchSize,
      nbs,
    };
  }

  /** Steady-state accumulation (round(nbs / batch)). */
  get accumulate(): number {
    return accumulateSteps(this.opts.batchSize, this.opts.nbs ?? NOMINAL_BATCH);
  }

  /** Settings of the last iteration (for the x/lr columns of results.csv). */
  get last(): StepInfo {
    return this.lastSettings;
  }

  /**
   * Forward and backward on one batch. Fills and returns `this.grads` (the gradient of
   * loss·batch) and the loss items; moves the BatchNorm running statistics.
   */
  computeGradients(batch: TrainBatch): { grads: Float32Array; items: LossItems } {
    const { model, opts } = this;
    const meta = { nc: model.nc, anchors: model.anchors, strides: model.strides, imgsz: opts.imgsz };
    const n = this.layout.size;
    const vars = this.layout.entries.map((e) => e.variable);
    let items: LossItems = { box: 0, obj: 0, cls: 0 };
    // the images and the batch's target assignment go up together, in one upload, when the
    // prediction grids are known before the forward (sides that are multiples of every stride)
    const grids = this.predictedGrids(batch);
    const prep = grids ? prepareTargets(batch.targets, meta, grids, opts.hyp) : null;
    tf.tidy(() => {
      const npx = batch.images.length;
      let x: tf.Tensor4D,
        targetsUp: tf.Tensor1D | null = null;
      if (prep) {
        const pack = new Float32Array(npx + prep.floats.length);
        pack.set(batch.images);
        pack.set(prep.floats, npx);
        const up = tf.tensor1d(pack);
        x = tf.reshape(tf.slice(up, 0, npx), [batch.batchSize, batch.height, batch.width, 3]);
        targetsUp = tf.slice(up, npx, prep.floats.length);
      } else {
        x = tf.tensor4d(batch.images.slice(), [batch.batchSize, batch.height, batch.width, 3]);
      }
      let lossItems: tf.Tensor | null = null;
      try {
        const { grads } = tf.variableGrads(() => {
          const preds = model.forward(x, { training: true });
          const l =
            prep && targetsUp
              ? computePreparedLoss(preds, prep, targetsUp, meta, opts.hyp)
              : computeLoss(preds, batch.targets, meta, opts.hyp);
          lossItems = tf.keep(tf.stack([l.lbox, l.lobj, l.lcls]));
          return l.total;
        }, vars);
        // the whole gradient and the loss items in one buffer: one read of the backend
        const parts = this.layout.entries.map((e) => {
          const g = grads[e.variable.name];
          return g ? tf.reshape(g, [e.size]) : tf.fill([e.size], 0, 'float32');
        });
        parts.push(lossItems!);
        const all = tf.concat(parts).dataSync() as Float32Array;
        this.grads.set(all.subarray(0, n));
        items = { box: all[n], obj: all[n + 1], cls: all[n + 2] };
      } finally {
        if (lossItems) tf.dispose(lossItems);
      }
    });
    return { grads: this.grads, items };
  }

  /**
   * Adds a (possibly allreduced) gradient to the accumulator and, when `accumulate` batches
   * have been summed, clips, steps the optimizer and updates the EMA. Ends the iteration.
   */
  applyGradients(grads: Float32Array = this.grads): StepInfo {
    if (grads.length !== this.layout.size) throw new RangeError(`gradient has ${grads.length} elements, expected ${this.layout.size}`);
    const c = this.counters;
    const acc = this.accumulated;
    flatMath().accumulate(acc, grads);
    const s = iterationSettings(this.schedule, c.ni, c.epoch);
    const info: StepInfo = { stepped: false, lr: s.lr, momentum: s.momentum };
    if (c.ni - c.lastOptStep >= s.accumulate) {
      const maxNorm = this.opts.maxGradNorm ?? 10;
      if (maxNorm > 0) info.gradNorm = clipGradNorm(acc, maxNorm);
      const n = this.layout.size;
      const d = this.ema.nextDecay();
      const wd = [0, this.weightDecay, 0];
      this.upload.set([...s.lr, ...wd, s.momentum, d, 1 - d], n);
      tf.tidy(() => {
        // a copy for a device backend (whose write may keep the array until it uploads); on a
        // host backend the array itself becomes the tensor's storage, which the optimizer and the
        // EMA only read before this tidy disposes it (host-values.ts): a 7 MB copy per step there
        // would be garbage for the collector and nothing more
        const up = tf.tensor1d(onHostBackend() ? this.upload : this.upload.slice());
        const at = (k: number, len = 1): tf.Tensor1D => tf.slice(up, n + k, len);
        this.optimizer.step(up, { lr: at(0, 3), weightDecay: at(3, 3), momentum: at(6), decayed: wd.map((w) => Math.fround(w) !== 0) });
        this.ema.update(at(7), at(8));
      });
      acc.fill(0);
      c.lastOptStep = c.ni;
      c.optimizerSteps += 1;
      info.stepped = true;
    }
    c.ni += 1;
    this.lastSettings = info;
    return info;
  }

  /** The prediction grids of `batch`, when its sides are multiples of every stride; else null (known only after the forward). */
  private predictedGrids(batch: TrainBatch): LossGrid[] | null {
    const { model } = this;
    if (model.strides.some((st) => batch.height % st !== 0 || batch.width % st !== 0)) return null;
    return model.strides.map((st, i) => ({
      batch: batch.batchSize,
      na: model.anchors[i].length,
      ny: batch.height / st,
      nx: batch.width / st,
      no: model.nc + 5,
    }));
  }

  /** Ends the iteration without using its gradient (a non-finite one: fit's guard skips it). */
  skipBatch(): void {
    this.counters.ni += 1;
  }

  /** Frees the momentum and EMA tensors on the backend (the model is its owner's to dispose). */
  dispose(): void {
    this.optimizer.dispose();
    this.ema.dispose();
  }

  /** computeGradients + applyGradients, for one process. */
  step(batch: TrainBatch): { items: LossItems } & StepInfo {
    const { items } = this.computeGradients(batch);
    return { items, ...this.applyGradients() };
  }
}
