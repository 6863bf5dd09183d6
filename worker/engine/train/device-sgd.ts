/**
 * The Nesterov SGD of optimizer.ts as tensor ops on the backend: the parameters stay in their
 * variables, the momentum in one flat tensor of the parameter layout, and a step reads nothing
 * back to the host. Per element and group it computes what NesterovSgd computes, in the same
 * order, each operation rounded to float32 (IEEE multiplication and addition commute), so the
 * two give bit-identical parameters:
 *   g ← g + wd·p;  v ← first ? g : μ·v + g;  p ← p − lr·(g + μ·v)
 * The gradient and the step's scalars (lr and decay per group, μ) come in as tensors, sliced
 * from the one upload the trainer makes per optimizer step. The update itself is the
 * FlotillaNesterov kernel where the backend has it (one pass), tfjs ops elsewhere
 * (worker/native/flat-step.ts). On tfjs's `cpu` backend (native-cpu), whose tensors are host
 * arrays, the same loop runs on each variable's values and the momentum is a host array: no
 * concatenation of the parameters and no split back (host-values.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { flatMath, nesterovStep } from '../../native/index.ts';
import { adoptValues, copyForUpdate, hostValues, onHostBackend } from './host-values.ts';
import type { ParamGroupRange } from './optimizer.ts';
import type { FlatEntry } from './params.ts';

/** The step's scalars as float32 tensors on the backend. */
export interface DeviceStepScalars {
  /** learning rate per group index, [groups] */
  lr: tf.Tensor1D;
  /** weight decay per group index, [groups] */
  weightDecay: tf.Tensor1D;
  /** [1] */
  momentum: tf.Tensor1D;
  /** per group index: whether its weight decay is non-zero (a zero one adds no term, as NesterovSgd) */
  decayed: readonly boolean[];
}

export class DeviceSgd {
  /** false until the first step (PyTorch initialises the buffer with the first gradient) */
  initialized = false;
  /** the momentum on the backend; null on a host backend, where `hostV` holds it */
  private v: tf.Variable<tf.Rank.R1> | null;
  private readonly hostV: Float32Array | null;

  constructor(
    readonly entries: readonly FlatEntry[],
    readonly size: number,
    readonly ranges: readonly ParamGroupRange[],
  ) {
    for (const r of ranges) {
      if (r.begin < 0 || r.end > size || r.begin > r.end) throw new RangeError(`bad parameter range [${r.begin}, ${r.end}) of ${size}`);
    }
    for (const e of entries) {
      if (e.offset < 0 || e.offset + e.size > size)
        throw new RangeError(`parameter at [${e.offset}, ${e.offset + e.size}) outside the layout of ${size}`);
    }
    const host = onHostBackend();
    this.hostV = host ? new Float32Array(size) : null;
    this.v = host ? null : tf.variable(tf.fill([size], 0, 'float32') as tf.Tensor1D, false);
  }

  /** The momentum buffer, read back to the host (checkpoints only). */
  get velocity(): Float32Array {
    return Float32Array.from(this.hostV ?? (this.v!.dataSync() as Float32Array));
  }

  /** Sets the momentum buffer (a checkpoint's). */
  loadVelocity(values: Float32Array): void {
    if (values.length !== this.size) throw new RangeError(`velocity has ${values.length} elements, expected ${this.size}`);
    if (this.hostV) this.hostV.set(values);
    else tf.tidy(() => this.v!.assign(tf.tensor1d(values.slice())));
  }

  /**
   * One step from the flat gradient: the first `size` values of `grads` (on the backend; what
   * follows them is ignored, so the trainer's upload goes in without a copy). Updates every
   * variable of the layout.
   */
  step(grads: tf.Tensor1D, s: DeviceStepScalars): void {
    if (grads.size < this.size) throw new RangeError(`expected ${this.size} gradients, got ${grads.size}`);
    if (this.size === 0) return;
    const first = !this.initialized;
    if (this.hostV) this.hostStep(grads, s, first, this.hostV);
    else
      tf.tidy(() => {
        const v = this.v!;
        const params = tf.concat(this.entries.map((e) => tf.reshape(e.variable, [e.size]))) as tf.Tensor1D;
        const [p, nv] = nesterovStep(
          params,
          grads,
          v,
          s.lr,
          s.weightDecay,
          s.momentum,
          this.ranges,
          first,
          s.decayed.map((d) => !d),
        );
        v.assign(nv);
        const parts = tf.split(
          p,
          this.entries.map((e) => e.size),
        );
        this.entries.forEach((e, i) => e.variable.assign(tf.reshape(parts[i], e.variable.shape)));
      });
    this.initialized = true;
  }

  dispose(): void {
    this.v?.dispose();
  }

  /**
   * The step on host arrays: per variable, its slice of every group range it meets, through the
   * loop the FlotillaNesterov kernel runs (flat-math.ts; same scalars, same order, same bits).
   */
  private hostStep(grads: tf.Tensor1D, s: DeviceStepScalars, first: boolean, v: Float32Array): void {
    const g = hostValues(grads),
      lr = hostValues(s.lr),
      wd = hostValues(s.weightDecay),
      mu = hostValues(s.momentum)[0];
    const fm = flatMath();
    for (const e of this.entries) {
      const p = copyForUpdate(e.variable);
      const b = e.offset,
        end = e.offset + e.size;
      const gs = g.subarray(b, end),
        vs = v.subarray(b, end);
      for (const r of this.ranges) {
        const lo = Math.max(b, r.begin),
          hi = Math.min(end, r.end);
        if (lo < hi) fm.nesterov(p, gs, vs, lo - b, hi - b, lr[r.group], wd[r.group], mu, first);
      }
      adoptValues(e.variable, p);
    }
  }
}
