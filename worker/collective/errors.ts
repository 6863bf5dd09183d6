/**
 * Typed failures of the collective library. They extend FlotillaError so that a supervisor can
 * match on `code` (FLO_TIMEOUT is retryable, FLO_CANCELLED is not) as well as on the class.
 */
import { FlotillaError } from '../../shared/errors.ts';

/** An operation did not complete in time; `missingRanks` are the ranks it did not hear from. */
export class CollectiveTimeoutError extends FlotillaError {
  override name = 'CollectiveTimeoutError';
  readonly missingRanks: number[];
  readonly op: string;
  constructor(op: string, missingRanks: number[], timeoutMs: number, opts: { cause?: unknown } = {}) {
    const who = missingRanks.length ? `rank${missingRanks.length > 1 ? 's' : ''} ${missingRanks.join(', ')}` : 'no rank in particular';
    super('FLO_TIMEOUT', `collective ${op} timed out after ${timeoutMs} ms waiting for ${who}`, {
      details: { op, missingRanks, timeoutMs },
      cause: opts.cause,
    });
    this.op = op;
    this.missingRanks = missingRanks;
  }
}

/** The group or the operation was aborted from the outside (AbortSignal) or closed. */
export class CollectiveAbortedError extends FlotillaError {
  override name = 'CollectiveAbortedError';
  constructor(message = 'collective operation aborted', opts: { cause?: unknown } = {}) {
    super('FLO_CANCELLED', message, { cause: opts.cause });
  }
}

/**
 * A connection carrying the group's data ended (server killed, restarted, a failover) and did
 * not come back within the group's `reconnectMs` (or before the group had joined, or with its
 * main connection closed for good), so the operation in flight and the group are over.
 * Retryable (FLO_UNAVAILABLE): a new group on fresh connections can redo the step.
 */
export class CollectiveConnectionError extends FlotillaError {
  override name = 'CollectiveConnectionError';
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('FLO_UNAVAILABLE', message, { cause: opts.cause });
  }
}

/** Misuse (bad arguments, mismatched sizes, a peer that disagrees about the group). */
export class CollectiveError extends FlotillaError {
  override name = 'CollectiveError';
  constructor(message: string, opts: { cause?: unknown; details?: unknown } = {}) {
    super('FLO_INVALID_STATE', message, opts);
  }
}
