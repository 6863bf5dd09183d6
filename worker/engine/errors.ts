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
