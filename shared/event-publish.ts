/**
 * Publishes a JobEvent into the events stream (JetStream publish: stored before acked). A
 * publish retried after a lost ack carries the same `Nats-Msg-Id`, so the stream stores it
 * once (within the stream's duplicate window, 2 min by default).
 */
import { randomBytes } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { JobEvent } from './schemas/event.ts';
import { encode, validate } from './codec.ts';
import { clipText } from './schemas/bounds.ts';
import type { Subjects } from './subjects.ts';
import { withJsRetry, type JsRetryOptions } from './js-retry.ts';

export type JobEventInput = JobEvent;

/** The event with its free text (a log line, a state's or a fault's message) clipped to its bound: an event is never refused for its length. */
function clipped(e: JobEventInput): JobEventInput {
  if (e.type === 'log') return { ...e, msg: clipText(e.msg) };
  if ((e.type === 'state' || e.type === 'fault') && e.message !== undefined) return { ...e, message: clipText(e.message) };
  return e;
}

/**
 * Stores one event; resolves with its stream sequence. `msgID` (default: unique) makes the event
 * idempotent: a second event with the same id inside the duplicate window is not stored again.
 */
export async function publishEvent(
  js: JetStreamClient,
  s: Subjects,
  event: JobEventInput,
  retry: JsRetryOptions = {},
  msgID?: string,
): Promise<number> {
  const e = validate(JobEvent, clipped(event));
  msgID ??= `${e.jobId}-${e.ts}-${randomBytes(6).toString('hex')}`;
  const data = encode(e);
  const ack = await withJsRetry(`publish ${e.type} event of ${e.jobId}`, () => js.publish(s.jobEvents(e.jobId), data, { msgID }), retry);
  return ack.seq;
}
