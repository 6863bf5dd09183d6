/**
 * Retries a JetStream call through the faults a NATS cluster goes through on its own: a
 * server lost or restarting (timeouts, no responders while the client reconnects), and a
 * leader election ("JetStream system temporarily unavailable", stream or meta leader not yet
 * there). Backoff is bounded (doubling from `baseMs` to `maxMs`, with jitter) and so is the
 * whole call (`attempts`, `budgetMs`); when it gives up it throws FLO_UNAVAILABLE, which the
 * catalogue marks retryable, carrying the last error as `cause`. Anything else (a CAS
 * conflict, a validation error, a missing stream) is thrown at once: retrying cannot fix it.
 *
 * A retried write may have landed the first time (its reply was what got lost); callers
 * make their writes idempotent: `Nats-Msg-Id` on stream publishes, read-back after a CAS
 * create (see head/state/job-store.ts).
 */
import { errors as coreErrors, RequestError } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { FlotillaError } from './errors.ts';

/**
 * JetStream API error codes (nats-server's errors.json) that a cluster clears by itself:
 * 10008 "JetStream system temporarily unavailable", 10009 "JetStream cluster can not handle
 * request" (no meta leader), 10007 "cluster not assigned to this server", 10005 "no suitable
 * peers for placement" (servers down), 10118 "stream is offline", 10023 "insufficient
 * resources" (peers down during placement).
 */
export const TRANSIENT_JS_CODES: ReadonlySet<number> = new Set([10005, 10007, 10008, 10009, 10023, 10118]);

/** Options of withJsRetry; defaults in JS_RETRY_DEFAULTS. */
export interface JsRetryOptions {
  /** tries in all, the first included (default 10) */
  attempts?: number;
  /** first pause (default 100 ms), doubled per try */
  baseMs?: number;
  /** longest pause (default 2000 ms) */
  maxMs?: number;
  /** no new try starts after this much time since the first (default 20000 ms) */
  budgetMs?: number;
  /** stops retrying (the last error is thrown as FLO_UNAVAILABLE) */
  signal?: AbortSignal;
  /** gives a reason to stop at once, e.g. "not connected to NATS" (checked before each try) */
  failFast?: () => string | null;
  /** told about each retry (libraries do not log; the caller may) */
  onRetry?: (info: { what: string; attempt: number; delayMs: number; error: unknown }) => void;
}

export const JS_RETRY_DEFAULTS = Object.freeze({ attempts: 10, baseMs: 100, maxMs: 2000, budgetMs: 20_000 });

/** `e` and its chain of `cause`s (at most 5). */
export function causes(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let cur = e, i = 0; cur && i < 5; i++) {
    out.push(cur);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return out;
}

/** True for an error a NATS cluster clears by itself (see the file comment). */
export function isTransientJsError(e: unknown): boolean {
  for (const c of causes(e)) {
    if (c instanceof coreErrors.TimeoutError) return true;
    if (c instanceof RequestError && c.isNoResponders()) return true;
    if (c instanceof coreErrors.NoRespondersError) return true;
    // (nats.js wraps a no-responders API request in JetStreamNotEnabled: its cause matches above)
    if (c instanceof JetStreamApiError && (TRANSIENT_JS_CODES.has(c.code) || c.status === 503)) return true;
    if (c instanceof coreErrors.ConnectionError) return true;
    // a JetStream publish whose ack never came, or a 503 status on a pull
    if (c instanceof Error && /\b503\b|timeout|temporarily unavailable/i.test(c.message) && !(c instanceof FlotillaError)) return true;
  }
  return false;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Runs `fn`, retrying transient JetStream errors with bounded backoff. `what` names the call
 * in the final error ("save checkpoint j1/000000000010").
 */
export async function withJsRetry<T>(what: string, fn: (attempt: number) => Promise<T>, o: JsRetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, o.attempts ?? JS_RETRY_DEFAULTS.attempts);
  const baseMs = o.baseMs ?? JS_RETRY_DEFAULTS.baseMs;
  const maxMs = o.maxMs ?? JS_RETRY_DEFAULTS.maxMs;
  const budgetMs = o.budgetMs ?? JS_RETRY_DEFAULTS.budgetMs;
  const started = Date.now();
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const why = o.failFast?.();
    if (why) throw new FlotillaError('FLO_UNAVAILABLE', `${what}: ${why}`, { cause: last });
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isTransientJsError(e)) throw e;
      last = e;
    }
    const delayMs = Math.min(maxMs, baseMs * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
    if (attempt === attempts || o.signal?.aborted || Date.now() - started + delayMs > budgetMs) break;
    o.onRetry?.({ what, attempt, delayMs, error: last });
    await sleep(delayMs, o.signal);
  }
  const msg = last instanceof Error ? last.message : String(last);
  throw new FlotillaError('FLO_UNAVAILABLE', `${what}: JetStream unavailable, gave up after ${Date.now() - started} ms: ${msg}`, {
    cause: last,
  });
}
