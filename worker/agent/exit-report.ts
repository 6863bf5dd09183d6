/**
 * An actor's exit, reported durably: a JetStream publish on `actorExit`, which the head's exits
 * stream captures, with the actor id as the message id (the stream drops a repeat inside its
 * duplicate window, and the head's handler ignores an exit it has already acted on), retried with
 * bounded backoff until the stream acknowledges it. Survives a server restart, a failover and a
 * head that is not running yet; only the agent closing ends the retries.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { encode } from '../../shared/codec.ts';
import { ActorExit } from '../../shared/schemas/index.ts';
import { abortableSleep } from '../actor/index.ts';

/** first retry delay, doubled per failure up to EXIT_RETRY_MAX_MS */
export const EXIT_RETRY_MS = 250;
export const EXIT_RETRY_MAX_MS = 2000;
/** how long one publish waits for the stream's acknowledgement */
export const EXIT_ACK_TIMEOUT_MS = 2000;

export const exitMsgId = (x: ActorExit): string => `exit-${x.actorId}`;

/** Resolves true once stored, false if `signal` ended the retries first. */
export async function reportExit(
  js: JetStreamClient, subject: string, exit: ActorExit, signal: AbortSignal, onRetry: (err: unknown, attempt: number) => void,
): Promise<boolean> {
  const data = encode(ActorExit.parse(exit));
  let delay = EXIT_RETRY_MS;
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      await js.publish(subject, data, { msgID: exitMsgId(exit), timeout: EXIT_ACK_TIMEOUT_MS });
      return true;
    } catch (err) {
      if (signal.aborted) break;
      onRetry(err, attempt);
      await abortableSleep(delay, signal);
      delay = Math.min(delay * 2, EXIT_RETRY_MAX_MS);
    }
  }
  return false;
}
