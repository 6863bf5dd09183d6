/**
 * Model EMA (ModelEMA of the reference): after every optimizer step,
 *   d = decay · (1 − exp(−updates / tau)),  ema ← d·ema + (1 − d)·model
 * over every floating tensor of the state dict (parameters and BatchNorm running statistics).
 */

export const EMA_DECAY = 0.9999;
export const EMA_TAU = 2000;

const f32 = Math.fround;

export function emaDecay(updates: number, decay = EMA_DECAY, tau = EMA_TAU): number {
  return decay * (1 - Math.exp(-updates / tau));
}

export class ModelEma {
  /** averaged state, keyed like the model's state dict */
  readonly state: Map<string, Float32Array>;
  /** optimizer steps averaged so far */
  updates: number;

  /** Starts as a copy of `modelState`. */
  constructor(modelState: Map<string, Float32Array>, updates = 0, readonly decay = EMA_DECAY, readonly tau = EMA_TAU) {
    this.state = new Map([...modelState].map(([k, v]) => [k, Float32Array.from(v)]));
    this.updates = updates;
  }

  update(modelState: Map<string, Float32Array>): void {
    this.updates += 1;
    const d = emaDecay(this.updates, this.decay, this.tau);
    const df = f32(d);
    const od = f32(1 - d);
    for (const [k, e] of this.state) {
      const m = modelState.get(k);
      if (!m || m.length !== e.length) throw new Error(`EMA: model state has no tensor ${k} of ${e.length} elements`);
      for (let i = 0; i < e.length; i++) e[i] = f32(f32(e[i] * df) + f32(od * m[i]));
    }
  }
}
