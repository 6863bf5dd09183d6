/**
 * Publishes a JobEvent into the events stream (JetStream publish: stored before acked). A
 * publish retried after a lost ack carries the same `Nats-Msg-Id`, so the stream stores it
 * once (within the stream's duplicate window, 2 min by default).
 */
import { randomBytes } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { JobEvent } from './schemas/event.ts';
import { encode, validate } from './codec.ts';
import type { Subjects } from './subjects.ts';
import { withJsRetry, type JsRetryOptions } from './js-retry.ts';

export type JobEventInput = JobEvent;

/**
 * Stores one event; resolves with its stream sequence. `msgID` (default: unique) makes the event
 * idempotent: a second event with the same id inside the duplicate window is not stored again.
 */
export async function publishEvent(js: JetStreamClient, s: Subjects, event: JobEventInput, retry: JsRetryOptions = {}, msgID?: string): Promise<number> {
  const e = validate(JobEvent, event);
  msgID ??= `${e.jobId}-${e.ts}-${randomBytes(6).toString('hex')}`;
  const data = encode(e);
  const ack = await withJsRetry(`publish ${e.type} event of ${e.jobId}`, () => js.publish(s.jobEvents(e.jobId), data, { msgID }), retry);
  return ack.seq;
}
