/**
 * The non-finite gradient guard of the training loops (fit and the logreg trainer). It looks at
 * the gradient after the allreduce, which every rank holds bit-identical (NaN or Inf on any one
 * rank makes the sum non-finite everywhere), so every rank takes the same decision without a
 * message: a non-finite step is skipped by all (nobody applies it), and `limit` of them in a
 * row end training with a message that says what to change.
 */
import { EngineError } from '../errors.ts';

/** Non-finite steps in a row before training stops (default of FiniteGuard). */
export const DEFAULT_NONFINITE_LIMIT = 5;

/** Training cannot go on: the gradient stayed NaN/Inf. Not worth a retry with the same settings. */
export class NonFiniteGradientError extends EngineError {
  override name = 'NonFiniteGradientError';
  readonly retryable = false;
  constructor(
    readonly steps: number,
    readonly lastStep: number,
    hint: string,
  ) {
    super(
      `the summed gradient was NaN or Inf for ${steps} consecutive steps (up to step ${lastStep}), so none of them was applied: ${hint}`,
    );
  }
}

/** Whether every element is finite (no NaN, no ±Inf). */
export function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    // v - v is NaN exactly for NaN and ±Inf
    if (v - v !== 0) return false;
  }
  return true;
}

export class FiniteGuard {
  /** non-finite steps in a row so far */
  consecutive = 0;
  /** non-finite steps skipped in total */
  skipped = 0;

  /** `hint`: what to change, in the error that ends training (e.g. "lower lr or check the data") */
  constructor(
    readonly hint: string,
    readonly limit: number = DEFAULT_NONFINITE_LIMIT,
  ) {}

  /**
   * True when `grads` (of training step `step`) may be applied; false when the step must be
   * skipped; throws NonFiniteGradientError on the `limit`-th non-finite step in a row.
   */
  check(grads: Float32Array, step: number): boolean {
    if (allFinite(grads)) {
      this.consecutive = 0;
      return true;
    }
    this.consecutive++;
    this.skipped++;
    if (this.consecutive >= this.limit) throw new NonFiniteGradientError(this.consecutive, step, this.hint);
    return false;
  }
}
