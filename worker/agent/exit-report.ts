/**
 * An actor's exit, reported durably: a JetStream publish on `actorExit`, which the head's exits
 * stream captures, with the actor id as the message id (the stream drops a repeat inside its
 * duplicate window, and the head's handler ignores an exit it has already acted on), retried
 * (shared/js-retry.ts, without a count or time limit) until the stream acknowledges it. Survives
 * a server restart, a failover and a head that is not running yet; only the agent closing (the
 * signal) or an error no retry can fix (a permission violation) ends it.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { encode } from '../../shared/codec.ts';
import { withJsRetry } from '../../shared/js-retry.ts';
import { ActorExit } from '../../shared/schemas/index.ts';
import { clipText } from '../../shared/schemas/bounds.ts';

/** first retry delay, doubled per failure up to EXIT_RETRY_MAX_MS */
export const EXIT_RETRY_MS = 250;
export const EXIT_RETRY_MAX_MS = 2000;
/** how long one publish waits for the stream's acknowledgement */
export const EXIT_ACK_TIMEOUT_MS = 2000;

export const exitMsgId = (x: ActorExit): string => `exit-${x.actorId}`;

/** Resolves true once stored; false when `signal` ended the retries or an error cannot be retried (given to onGiveUp). */
export async function reportExit(
  js: JetStreamClient,
  subject: string,
  exit: ActorExit,
  signal: AbortSignal,
  onRetry: (err: unknown, attempt: number) => void,
  onGiveUp: (err: unknown) => void = () => undefined,
): Promise<boolean> {
  // a crash's message may be a long stack: clipped, so the exit itself is never refused
  const data = encode(ActorExit.parse({ ...exit, outcome: { ...exit.outcome, message: clipText(exit.outcome.message ?? '') } }));
  try {
    await withJsRetry(
      `report the exit of ${exit.actorId}`,
      () => js.publish(subject, data, { msgID: exitMsgId(exit), timeout: EXIT_ACK_TIMEOUT_MS }),
      {
        attempts: Number.POSITIVE_INFINITY,
        budgetMs: Number.POSITIVE_INFINITY,
        baseMs: EXIT_RETRY_MS,
        maxMs: EXIT_RETRY_MAX_MS,
        signal,
        onRetry: ({ attempt, error }) => onRetry(error, attempt),
      },
    );
    return true;
  } catch (err) {
    onGiveUp(err);
    return false;
  }
}
