/**
 * Adam and AdamW over the flat parameter layout, as tensor ops on the backend (train.py
 * --optimizer Adam|AdamW: torch.optim.Adam / AdamW with betas (hyp momentum, 0.999), eps 1e-8,
 * the same three parameter groups as SGD: weights with decay, BN weights and biases without).
 * Per element, with t the step count (from 1) and the group's lr and decay wd:
 *   Adam:   g ← g + wd·p
 *   AdamW:  p ← p·(1 − lr·wd)
 *   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *   p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps)
 * β1 stays the hyp momentum through warmup: train.py's warmup sets a group's momentum only
 * where the group has one, and Adam's groups have betas instead. Unlike the SGD step this is
 * tfjs ops, not a fused kernel, and it is not checked bit for bit against PyTorch.
 */
import * as tf from '@tensorflow/tfjs';
import type { DeviceStepScalars } from './device-sgd.ts';
import type { ParamGroupRange } from './optimizer.ts';
import type { FlatEntry } from './params.ts';

export type AdamKind = 'Adam' | 'AdamW';

export const ADAM_BETA2 = 0.999;
export const ADAM_EPS = 1e-8;

export class DeviceAdam {
  /** Adam keeps its moments from zero; true once a step was taken (the checkpoint's flag) */
  initialized = false;
  /** steps taken (t of the bias corrections) */
  steps = 0;
  private m: tf.Variable<tf.Rank.R1>;
  private v: tf.Variable<tf.Rank.R1>;
  /** per element: its group index; elements in no range point at an extra group with lr 0 */
  private groupOf: tf.Tensor1D;
  private readonly groups: number;

  constructor(
    readonly entries: readonly FlatEntry[],
    readonly size: number,
    readonly ranges: readonly ParamGroupRange[],
    readonly kind: AdamKind,
    readonly beta1: number,
  ) {
    this.groups = Math.max(-1, ...ranges.map((r) => r.group)) + 1;
    const idx = new Int32Array(size).fill(this.groups);
    for (const r of ranges) {
      if (r.begin < 0 || r.end > size || r.begin > r.end) throw new RangeError(`bad parameter range [${r.begin}, ${r.end}) of ${size}`);
      idx.fill(r.group, r.begin, r.end);
    }
    this.groupOf = tf.tensor1d(idx, 'int32');
    this.m = tf.variable(tf.fill([size], 0, 'float32') as tf.Tensor1D, false);
    this.v = tf.variable(tf.fill([size], 0, 'float32') as tf.Tensor1D, false);
  }

  /** The first moment, read back (checkpoints: stored where SGD stores its momentum). */
  get velocity(): Float32Array {
    return Float32Array.from(this.m.dataSync() as Float32Array);
  }

  loadVelocity(values: Float32Array): void {
    if (values.length !== this.size) throw new RangeError(`first moment has ${values.length} elements, expected ${this.size}`);
    tf.tidy(() => this.m.assign(tf.tensor1d(values.slice())));
  }

  /** The second moment, read back (checkpoints). */
  get secondMoment(): Float32Array {
    return Float32Array.from(this.v.dataSync() as Float32Array);
  }

  loadSecondMoment(values: Float32Array): void {
    if (values.length !== this.size) throw new RangeError(`second moment has ${values.length} elements, expected ${this.size}`);
    tf.tidy(() => this.v.assign(tf.tensor1d(values.slice())));
  }

  /** One step from the first `size` values of `grads`; `s.momentum` is not used (β1 is fixed). */
  step(grads: tf.Tensor1D, s: DeviceStepScalars): void {
    if (grads.size < this.size) throw new RangeError(`expected ${this.size} gradients, got ${grads.size}`);
    if (this.size === 0) return;
    const t = this.steps + 1;
    const b1 = this.beta1,
      b2 = ADAM_BETA2;
    const bc1 = 1 - b1 ** t,
      bc2 = 1 - b2 ** t;
    tf.tidy(() => {
      const zero = tf.zeros([1]);
      const lr = tf.gather(tf.concat([tf.slice(s.lr, 0, this.groups), zero]), this.groupOf);
      const wd = tf.gather(tf.concat([tf.slice(s.weightDecay, 0, this.groups), zero]), this.groupOf);
      let p = tf.concat(this.entries.map((e) => tf.reshape(e.variable, [e.size]))) as tf.Tensor1D;
      let g = tf.slice(grads, 0, this.size);
      if (this.kind === 'Adam') g = tf.add(g, tf.mul(wd, p));
      else p = tf.mul(p, tf.sub(1, tf.mul(lr, wd)));
      const m = tf.add(tf.mul(this.m, b1), tf.mul(g, 1 - b1));
      const v = tf.add(tf.mul(this.v, b2), tf.mul(tf.square(g), 1 - b2));
      const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), ADAM_EPS);
      p = tf.sub(p, tf.mul(tf.div(lr, bc1), tf.div(m, denom)));
      this.m.assign(m as tf.Tensor1D);
      this.v.assign(v as tf.Tensor1D);
      const parts = tf.split(
        p,
        this.entries.map((e) => e.size),
      );
      this.entries.forEach((e, i) => e.variable.assign(tf.reshape(parts[i], e.variable.shape)));
    });
    this.steps = t;
    this.initialized = true;
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
    this.groupOf.dispose();
  }
}
