/**
 * The Nesterov SGD of optimizer.ts as tensor ops on the backend: the parameters stay in their
 * variables, the momentum in one tensor per parameter, and a step reads nothing back to the
 * host. Each variable is updated by its own kernel call reading its slice of the flat gradient
 * in place (no concatenation of the parameters into a flat vector and no split back: on the CPU
 * those were two extra passes and fresh buffers every step). Per element and group it computes what NesterovSgd computes, in the same
 * order, each operation rounded to float32 (IEEE multiplication and addition commute), so the
 * two give bit-identical parameters:
 *   g ← g + wd·p;  v ← first ? g : μ·v + g;  p ← p − lr·(g + μ·v)
 * The gradient and the step's scalars (lr and decay per group, μ) come in as tensors, sliced
 * from the one upload the trainer makes per optimizer step. The update itself is the
 * FlotillaNesterov kernel where the backend has it (one pass), tfjs ops elsewhere
 * (worker/native/flat-step.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { nesterovStep, type FlatRange } from '../../native/index.ts';
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
  /** the momentum, one tensor per entry (flat, the entry's size) */
  private readonly v: Array<tf.Variable<tf.Rank.R1>>;
  /** each entry's group range, in the entry's own index space */
  private readonly own: ReadonlyArray<readonly FlatRange[]>;

  constructor(readonly entries: readonly FlatEntry[], readonly size: number, readonly ranges: readonly ParamGroupRange[]) {
    for (const r of ranges) {
      if (r.begin < 0 || r.end > size || r.begin > r.end) throw new RangeError(`bad parameter range [${r.begin}, ${r.end}) of ${size}`);
    }
    let covered = 0;
    for (const e of entries) {
      if (e.offset !== covered || !ranges.some((r) => r.group === e.group && r.begin <= e.offset && e.offset + e.size <= r.end)) {
        throw new RangeError(`parameter ${e.name} [${e.offset}, ${e.offset + e.size}) is not in its group's range, in layout order`);
      }
      covered += e.size;
    }
    if (covered !== size) throw new RangeError(`parameters cover ${covered} of ${size} values`);
    this.v = entries.map((e) => tf.variable(tf.fill([e.size], 0, 'float32') as tf.Tensor1D, false));
    this.own = entries.map((e) => [{ begin: 0, end: e.size, group: e.group }]);
  }

  /** The momentum buffer, read back to the host (checkpoints only). */
  get velocity(): Float32Array {
    if (this.v.length === 0) return new Float32Array(0);
    return Float32Array.from(tf.tidy(() => tf.concat(this.v).dataSync() as Float32Array));
  }

  /** Sets the momentum buffer (a checkpoint's). */
  loadVelocity(values: Float32Array): void {
    if (values.length !== this.size) throw new RangeError(`velocity has ${values.length} elements, expected ${this.size}`);
    tf.tidy(() => {
      const all = tf.tensor1d(values.slice());
      this.entries.forEach((e, i) => this.v[i].assign(tf.slice(all, e.offset, e.size)));
    });
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
    const wdZero = s.decayed.map((d) => !d);
    tf.tidy(() => {
      this.entries.forEach((e, i) => {
        const [p, v] = nesterovStep(tf.reshape(e.variable, [e.size]) as tf.Tensor1D, grads, this.v[i], s.lr, s.weightDecay, s.momentum,
          this.own[i], first, wdZero, e.offset);
        this.v[i].assign(v);
        e.variable.assign(tf.reshape(p, e.variable.shape));
      });
    });
    this.initialized = true;
  }

  dispose(): void {
    for (const v of this.v) v.dispose();
  }
}
