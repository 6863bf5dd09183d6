/**
 * Job events (logs, metrics, checkpoints) published into the `eventsStream` JetStream stream.
 * Whoever uses the stream first creates it; an event that cannot be stored is reported to the
 * caller's `onError` and does not stop training.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { encode, validate } from '../../shared/codec.ts';
import { subjects, type Subjects } from '../../shared/subjects.ts';
import { JobEvent } from '../../shared/schemas/index.ts';

/** Creates the events stream when it does not exist yet (idempotent, race-safe). */
export async function ensureEventsStream(nc: NatsConnection, prefix: string): Promise<void> {
  const s = subjects(prefix);
  const jsm = await jetstreamManager(nc);
  try { await jsm.streams.info(s.eventsStream); return; } catch { /* not there yet */ }
  try { await jsm.streams.add({ name: s.eventsStream, subjects: [s.allJobEvents] }); }
  catch (e) {
    // Someone else created it in between (possibly with another config): that one is fine.
    try { await jsm.streams.info(s.eventsStream); } catch { throw e; }
  }
}

export class EventPublisher {
  private readonly js: JetStreamClient;
  private readonly s: Subjects;
  constructor(nc: NatsConnection, prefix: string, private readonly onError: (err: unknown) => void = () => undefined) {
    this.js = jetstream(nc);
    this.s = subjects(prefix);
  }

  /** Validates and stores one event; resolves once JetStream acknowledged it (or it failed). */
  async emit(event: JobEvent): Promise<void> {
    try {
      const ev = validate(JobEvent, event);
      await this.js.publish(this.s.jobEvents(ev.jobId), encode(ev));
    } catch (err) {
      this.onError(err);
    }
  }
}
