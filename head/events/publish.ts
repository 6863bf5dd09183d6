/** Publishes a JobEvent into the events stream (JetStream publish: stored before acked). */
import type { JetStreamClient } from '@nats-io/jetstream';
import { JobEvent } from '../../shared/schemas/event.ts';
import { encode, validate } from '../../shared/codec.ts';
import type { Subjects } from '../../shared/subjects.ts';

export type JobEventInput = JobEvent;

export async function publishEvent(js: JetStreamClient, s: Subjects, event: JobEventInput): Promise<number> {
  const e = validate(JobEvent, event);
  const ack = await js.publish(s.jobEvents(e.jobId), encode(e));
  return ack.seq;
}
