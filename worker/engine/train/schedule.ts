/**
 * Learning-rate and momentum schedule of the reference train.py: a per-epoch LambdaLR factor
 * (linear or one-cycle cosine) with a per-iteration warmup that ramps lr, momentum and the
 * number of accumulated batches over the first `nw` iterations.
 *
 * The epoch lag is train.py's: its LambdaLR starts at lf(0) with `last_epoch = -1`, and
 * `scheduler.step()` at the end of epoch e sets lf(e), so epoch e ≥ 1 trains at lf(e − 1).
 * Warmup writes the lr itself, towards lf(current epoch), and the last warmup value sticks
 * until the next `scheduler.step()`: the rest of the epoch in which warmup ends trains at
 * lf(that epoch).
 */

/** Nominal batch size: gradients are accumulated until about this many images were seen. */
export const NOMINAL_BATCH = 64;
/** Warmup lasts at least this many iterations, however small the epoch. */
export const MIN_WARMUP_ITERS = 100;

export type LrKind = 'linear' | 'cosine';

/** Python's round(): halves go to the even neighbour (numpy's .round() does the same). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.interp over two points, clamped at both ends. */
export function interp(x: number, x0: number, x1: number, y0: number, y1: number): number {
  if (x <= x0) return y0;
  if (x >= x1) return y1;
  return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
}

/** The LambdaLR factor lf(epoch): linear `(1 - e/E)(1 - lrf) + lrf`, or one_cycle(1, lrf, E). */
export function lrFactor(kind: LrKind, epoch: number, epochs: number, lrf: number): number {
  if (kind === 'cosine') return ((1 - Math.cos((epoch * Math.PI) / epochs)) / 2) * (lrf - 1) + 1;
  return (1 - epoch / epochs) * (1.0 - lrf) + lrf;
}

/** accumulate = max(round(nbs / batch), 1) */
export function accumulateSteps(batchSize: number, nbs = NOMINAL_BATCH): number {
  return Math.max(roundHalfEven(nbs / batchSize), 1);
}

/** weight_decay *= batch * accumulate / nbs */
export function scaledWeightDecay(weightDecay: number, batchSize: number, nbs = NOMINAL_BATCH): number {
  return (weightDecay * batchSize * accumulateSteps(batchSize, nbs)) / nbs;
}

/** nw = max(round(warmup_epochs * nb), 100); warmup_epochs 0 disables it. */
export function warmupIters(warmupEpochs: number, batchesPerEpoch: number): number {
  if (warmupEpochs <= 0) return 0;
  return Math.max(roundHalfEven(warmupEpochs * batchesPerEpoch), MIN_WARMUP_ITERS);
}

/** What the optimizer uses at one iteration. Group order: 0 biases, 1 weights (decay), 2 BN weights. */
export interface IterationSettings {
  lr: [number, number, number];
  momentum: number;
  accumulate: number;
}

export interface ScheduleConfig {
  kind: LrKind;
  epochs: number;
  lr0: number;
  lrf: number;
  momentum: number;
  warmupMomentum: number;
  warmupBiasLr: number;
  /** warmup iterations (see warmupIters) */
  nw: number;
  /** batches per epoch (nb), to find the epoch in which warmup ends */
  batchesPerEpoch: number;
  /** batch size of one optimizer iteration across all ranks */
  batchSize: number;
  nbs?: number;
}

/** The epoch whose lf() the optimizer holds after warmup in `epoch` (see the module comment). */
export function scheduledEpoch(cfg: Pick<ScheduleConfig, 'nw' | 'batchesPerEpoch'>, epoch: number): number {
  const warmupEnds = cfg.nw > 0 ? Math.floor(cfg.nw / Math.max(cfg.batchesPerEpoch, 1)) : -1;
  return epoch === warmupEnds ? epoch : Math.max(epoch - 1, 0);
}

/**
 * Settings at integrated batch `ni` (= i + nb * epoch) of `epoch`. Inside the warmup
 * (ni <= nw) lr and momentum are interpolated towards lr0 * lf(epoch) and accumulate ramps
 * from 1 to nbs/batch; afterwards lr = lr0 * lf(scheduledEpoch(epoch)), as train.py's
 * LambdaLR steps it.
 */
export function iterationSettings(cfg: ScheduleConfig, ni: number, epoch: number): IterationSettings {
  const nbs = cfg.nbs ?? NOMINAL_BATCH;
  const acc = accumulateSteps(cfg.batchSize, nbs);
  if (cfg.nw > 0 && ni <= cfg.nw) {
    const base = cfg.lr0 * lrFactor(cfg.kind, epoch, cfg.epochs, cfg.lrf);
    const a = Math.max(1, roundHalfEven(interp(ni, 0, cfg.nw, 1, nbs / cfg.batchSize)));
    return {
      lr: [interp(ni, 0, cfg.nw, cfg.warmupBiasLr, base), interp(ni, 0, cfg.nw, 0, base), interp(ni, 0, cfg.nw, 0, base)],
      momentum: interp(ni, 0, cfg.nw, cfg.warmupMomentum, cfg.momentum),
      accumulate: a,
    };
  }
  const base = cfg.lr0 * lrFactor(cfg.kind, scheduledEpoch(cfg, epoch), cfg.epochs, cfg.lrf);
  return { lr: [base, base, base], momentum: cfg.momentum, accumulate: acc };
}
