/**
 * SGD with Nesterov momentum over one flat parameter vector, as torch.optim.SGD(nesterov=True)
 * does it per parameter group:
 *   g ← g + wd·p          (weight decay only in the decay group)
 *   v ← μ·v + g           (v starts as g on the first step)
 *   p ← p − lr·(g + μ·v)
 * Arithmetic is rounded to float32 after every operation, like PyTorch's float32 kernels, and
 * is the same bit for bit in its native and JavaScript forms (worker/native/flat-math.ts), so
 * a run is reproducible on every backend.
 */
import { flatMath } from '../../native/index.ts';

/** A contiguous slice [begin, end) of the flat vector that shares lr, momentum and decay. */
export interface ParamGroupRange {
  begin: number;
  end: number;
  /** index into the per-group lr array (0 biases, 1 weights, 2 BN weights) */
  group: number;
}

export interface SgdStepSettings {
  /** learning rate per group index */
  lr: readonly number[];
  momentum: number;
  /** weight decay per group index (0 for biases and BN weights) */
  weightDecay: readonly number[];
}

export class NesterovSgd {
  /** momentum buffers, flat, same layout as the parameters */
  readonly velocity: Float32Array;
  /** false until the first step (PyTorch initialises the buffer with the first gradient) */
  initialized = false;

  constructor(
    readonly size: number,
    readonly ranges: readonly ParamGroupRange[],
  ) {
    this.velocity = new Float32Array(size);
    for (const r of ranges) {
      if (r.begin < 0 || r.end > size || r.begin > r.end) throw new RangeError(`bad parameter range [${r.begin}, ${r.end}) of ${size}`);
    }
  }

  /** Updates `params` in place from `grads` (not modified). */
  step(params: Float32Array, grads: Float32Array, s: SgdStepSettings): void {
    if (params.length !== this.size || grads.length !== this.size) throw new RangeError(`expected ${this.size} parameters and gradients`);
    const first = !this.initialized;
    const math = flatMath();
    for (const r of this.ranges) {
      math.nesterov(params, grads, this.velocity, r.begin, r.end, s.lr[r.group], s.weightDecay[r.group] ?? 0, s.momentum, first);
    }
    this.initialized = true;
  }
}
