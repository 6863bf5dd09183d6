/**
 * Reads a job's events from the events stream, from a stream sequence on, as an async
 * iterable. `follow: false` ends once the reader has caught up; `follow: true` keeps waiting
 * for new events until the signal aborts or the caller stops iterating. A read that fails
 * mid-stream (a nats-server lost, a leader election) resumes after the last event it delivered.
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

/** Attempts of one read after a failure mid-stream (a server lost, a stream leader moved), each resuming after the last event delivered. */
const READ_ATTEMPTS = 6;

export async function* readEvents(
  js: JetStreamClient,
  jsm: JetStreamManager,
  s: Subjects,
  jobId: string,
  opts: ReadOptions,
): AsyncGenerator<StoredEvent> {
  let from = opts.from;
  for (let attempt = 1; ; attempt++) {
    try {
      for await (const e of readOnce(js, jsm, s, jobId, { ...opts, from })) {
        from = e.seq + 1;
        yield e;
      }
      return;
    } catch (err) {
      // a read is idempotent: resume after the last event delivered (bounded, with backoff)
      if (opts.signal?.aborted || attempt >= READ_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }
}

async function* readOnce(
  js: JetStreamClient,
  jsm: JetStreamManager,
  s: Subjects,
  jobId: string,
  opts: ReadOptions,
): AsyncGenerator<StoredEvent> {
  const subject = s.jobEvents(jobId);
  if (!opts.follow) {
    // a filter that matches nothing past `from` would make the consumer wait forever
    const last = await withJsRetry(`last event of ${jobId}`, () => jsm.streams.getMessage(s.eventsStream, { last_by_subj: subject }));
    if (!last || last.seq < (opts.from ?? 1)) return;
  }
  const from = opts.from && opts.from > 1 ? opts.from : undefined;
  const consumer = await withJsRetry(`read events of ${jobId}`, () =>
    js.consumers.get(s.eventsStream, {
      filter_subjects: subject,
      ...(from ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : { deliver_policy: DeliverPolicy.All }),
    }),
  );
  const msgs = await consumer.consume({ max_messages: 256 });
  const onAbort = () => {
    void msgs.close();
  };
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
