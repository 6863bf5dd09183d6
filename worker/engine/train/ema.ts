/**
 * Model EMA (ModelEMA of the reference): after every optimizer step,
 *   d = decay · (1 − exp(−updates / tau)),  ema ← d·ema + (1 − d)·model
 * over every floating tensor of the state dict (parameters and BatchNorm running statistics).
 */
import { flatMath } from '../../native/index.ts';

export const EMA_DECAY = 0.9999;
export const EMA_TAU = 2000;

const f32 = Math.fround;

export function emaDecay(updates: number, decay = EMA_DECAY, tau = EMA_TAU): number {
  return decay * (1 - Math.exp(-updates / tau));
}

/** EMA options; defaults are the reference's. */
export interface EmaOptions {
  /** decay, default 0.9999 */
  decay?: number;
  /** ramp time constant in updates, default 2000 */
  tau?: number;
  /** which state tensors are averaged (the others are copied from the model); default all */
  averaged?: (name: string) => boolean;
}

/** Averages exactly the model's parameters and BatchNorm buffers (not constants such as anchors). */
export function emaAveraged(model: { namedTensors(): readonly { name: string }[] }): (name: string) => boolean {
  const names = new Set(model.namedTensors().map((t) => t.name));
  return (name) => names.has(name);
}

export class ModelEma {
  /** averaged state, keyed like the model's state dict */
  readonly state: Map<string, Float32Array>;
  /** optimizer steps averaged so far */
  updates: number;

  readonly decay: number;
  readonly tau: number;
  private readonly averaged: (name: string) => boolean;

  /** Starts as a copy of `modelState`. */
  constructor(modelState: Map<string, Float32Array>, updates = 0, opts: EmaOptions = {}) {
    this.state = new Map([...modelState].map(([k, v]) => [k, Float32Array.from(v)]));
    this.updates = updates;
    this.decay = opts.decay ?? EMA_DECAY;
    this.tau = opts.tau ?? EMA_TAU;
    this.averaged = opts.averaged ?? (() => true);
  }

  update(modelState: Map<string, Float32Array>): void {
    this.updates += 1;
    const d = emaDecay(this.updates, this.decay, this.tau);
    const df = f32(d);
    const od = f32(1 - d);
    for (const [k, e] of this.state) {
      const m = modelState.get(k);
      if (!m || m.length !== e.length) throw new Error(`EMA: model state has no tensor ${k} of ${e.length} elements`);
      if (!this.averaged(k)) {
        e.set(m);
        continue;
      }
      flatMath().ema(e, m, df, od);
    }
  }
}
