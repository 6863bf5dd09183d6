/**
 * Reads a job's events from the events stream, from a stream sequence on, as an async
 * iterable. `follow: false` ends once the reader has caught up; `follow: true` keeps waiting
 * for new events until the signal aborts or the caller stops iterating.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { JobEvent } from '../../shared/schemas/event.ts';
import type { Subjects } from '../../shared/subjects.ts';
import { withJsRetry } from '../../shared/js-retry.ts';

export interface StoredEvent {
  /** stream sequence: the offset to resume from (`from = seq + 1`) */
  seq: number;
  event: JobEvent;
}

export interface ReadOptions {
  /** first stream sequence to deliver (default: the beginning) */
  from?: number;
  follow: boolean;
  signal?: AbortSignal;
}

export async function* readEvents(
  js: JetStreamClient, jsm: JetStreamManager, s: Subjects, jobId: string, opts: ReadOptions,
): AsyncGenerator<StoredEvent> {
  const subject = s.jobEvents(jobId);
  if (!opts.follow) {
    // a filter that matches nothing past `from` would make the consumer wait forever
    const last = await withJsRetry(`last event of ${jobId}`, () => jsm.streams.getMessage(s.eventsStream, { last_by_subj: subject }));
    if (!last || last.seq < (opts.from ?? 1)) return;
  }
  const from = opts.from && opts.from > 1 ? opts.from : undefined;
  const consumer = await withJsRetry(`read events of ${jobId}`, () => js.consumers.get(s.eventsStream, {
    filter_subjects: subject,
    ...(from ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : { deliver_policy: DeliverPolicy.All }),
  }));
  const msgs = await consumer.consume({ max_messages: 256 });
  const onAbort = () => { void msgs.close(); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (opts.signal?.aborted) return;
    for await (const m of msgs) {
      const r = JobEvent.safeParse(m.json());
      if (r.success) yield { seq: m.seq, event: r.data };
      if (!opts.follow && m.info.pending === 0) break;
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await msgs.close().catch(() => undefined);
  }
}
