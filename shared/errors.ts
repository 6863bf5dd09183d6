/**
 * One catalogue of errors with stable codes and HTTP statuses. Errors that cross NATS travel
 * as data ({ code, message, details }) and are rebuilt with fromWire(); match on `code`.
 */
export const ERROR_CATALOGUE = {
  FLO_VALIDATION: { status: 400, retryable: false, message: 'request failed validation' },
  FLO_UNAUTHENTICATED: { status: 401, retryable: false, message: 'missing or invalid credentials' },
  FLO_FORBIDDEN: { status: 403, retryable: false, message: 'not allowed for this identity' },
  FLO_NOT_FOUND: { status: 404, retryable: false, message: 'not found' },
  FLO_CONFLICT: { status: 409, retryable: true, message: 'state changed concurrently' },
  FLO_INVALID_STATE: { status: 409, retryable: false, message: 'operation not allowed in this state' },
  FLO_NO_CAPACITY: { status: 503, retryable: true, message: 'not enough worker slots' },
  FLO_TIMEOUT: { status: 504, retryable: true, message: 'timed out' },
  FLO_UNAVAILABLE: { status: 503, retryable: true, message: 'service unavailable' },
  FLO_ACTOR_FAILED: { status: 500, retryable: true, message: 'actor failed' },
  FLO_ACTOR_FATAL: { status: 500, retryable: false, message: 'actor failed with a non-retryable error' },
  FLO_CANCELLED: { status: 409, retryable: false, message: 'cancelled' },
  FLO_STALE_GENERATION: { status: 409, retryable: false, message: 'message from an old generation' },
  FLO_CHECKPOINT_CORRUPT: { status: 500, retryable: true, message: 'checkpoint digest mismatch' },
  FLO_CONFIG: { status: 400, retryable: false, message: 'invalid configuration' },
  FLO_INTERNAL: { status: 500, retryable: false, message: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** The wire form of an error. */
export interface WireError {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export class FlotillaError extends Error {
  override name = 'FlotillaError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details?: unknown;
  constructor(code: ErrorCode, message?: string, opts: { details?: unknown; cause?: unknown } = {}) {
    super(message ?? ERROR_CATALOGUE[code].message, { cause: opts.cause });
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.retryable = ERROR_CATALOGUE[code].retryable;
    this.details = opts.details;
  }
  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && Object.hasOwn(ERROR_CATALOGUE, x);
}

/** Rebuilds an error received as data; unknown codes become FLO_INTERNAL. */
export function fromWire(w: { code?: unknown; message?: unknown; details?: unknown }): FlotillaError {
  const code = isErrorCode(w.code) ? w.code : 'FLO_INTERNAL';
  return new FlotillaError(code, typeof w.message === 'string' ? w.message : undefined, { details: w.details });
}

/** Any thrown value as a wire error (non-Flotilla errors become FLO_INTERNAL). */
export function toWire(err: unknown): WireError {
  if (err instanceof FlotillaError) return err.toWire();
  return { code: 'FLO_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
