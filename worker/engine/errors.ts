/**
 * The engine's errors say whether trying again can help: `retryable` is false for bad input
 * (a dataset, model, weights or checkpoint file that is malformed, a run that does not fit its
 * checkpoint, gradients that stay non-finite) and true for an interruption (a lost peer in the
 * middle of a step). The actor boundary maps them once (worker/actor/runtime.ts `classify`):
 * an error with `retryable: false` fails the job, anything else is retried.
 */
export abstract class EngineError extends Error {
  abstract readonly retryable: boolean;
}

/**
 * Input a run cannot use (a spec, hyp, dataset, weights or checkpoint), named with what was
 * wrong and, when another error said why, its message: a retry cannot help. A trainer throws it
 * instead of choosing a platform error code; the actor boundary maps it like every EngineError.
 */
export class BadInputError extends EngineError {
  override name = 'BadInputError';
  readonly retryable = false;
  constructor(what: string, cause?: unknown) {
    super(cause === undefined ? what : `${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
