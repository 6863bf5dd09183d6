/**
 * Job events (logs, metrics, checkpoints) published into the `eventsStream` JetStream stream.
 * Whoever uses the stream first creates it (min(3, servers) replicas); publishes ride out a
 * server loss or leader election (shared/js-retry.ts) and are deduplicated by message id; an
 * event that still cannot be stored is reported to the caller's `onError` and does not stop
 * training.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { jsClient } from '../../shared/js-domain.ts';
import { subjects, type Subjects } from '../../shared/subjects.ts';
import { JobEvent } from '../../shared/schemas/index.ts';
import { publishEvent } from '../../shared/event-publish.ts';
import { jsManager, detectClusterSize, defaultReplicas, ensureStream } from '../../shared/js-assets.ts';

/**
 * Events streams this process has seen or made: a pooled actor process that runs job after job
 * (reuse.ts) asks once, not twice a job (the stream is the head's and is never removed while
 * it runs; a publish to a missing one fails and is reported like any lost event).
 */
const ensured = new Set<string>();

/** Creates the events stream when it does not exist yet (idempotent, race-safe). */
export async function ensureEventsStream(nc: NatsConnection, prefix: string): Promise<void> {
  const s = subjects(prefix);
  if (ensured.has(s.eventsStream)) return;
  const jsm = await jsManager(nc);
  const there = await jsm.streams.info(s.eventsStream).then(
    () => true,
    () => false,
  );
  if (!there) await ensureStream(jsm, { name: s.eventsStream, subjects: [s.allJobEvents] }, defaultReplicas(await detectClusterSize(jsm)));
  ensured.add(s.eventsStream);
}

export class EventPublisher {
  private readonly js: JetStreamClient;
  private readonly s: Subjects;
  constructor(
    nc: NatsConnection,
    prefix: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.js = jsClient(nc);
    this.s = subjects(prefix);
  }

  /** Validates and stores one event (once per `msgID`, when given); resolves once JetStream acknowledged it (or it failed). */
  async emit(event: JobEvent, msgID?: string): Promise<void> {
    try {
      await publishEvent(this.js, this.s, event, {}, msgID);
    } catch (err) {
      this.onError(err);
    }
  }
}
