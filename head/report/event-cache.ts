/**
 * The events a report is built from, kept per job so a report asked for again (the dashboard,
 * `chaos run` polling) reads only what the stream got since: a job of 100,000 steps is read
 * once, not on every GET. Bounded: the jobs asked for most recently are kept, up to
 * `maxEvents` events in all (the oldest job is dropped first and read again when asked for).
 */
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { ReadOptions, StoredEvent } from '../events/read.ts';

/** Events kept over all jobs (default): about 200 MB at the ~400 bytes of a metric event. */
export const MAX_CACHED_EVENTS = 500_000;

type Reader = (jobId: string, opts: ReadOptions) => AsyncIterable<StoredEvent>;

export class ReportEvents {
  /** insertion order = least recently used first */
  readonly #jobs = new Map<string, { events: JobEvent[]; next: number }>();
  #total = 0;
  /** one read per job at a time: a second GET waits for the first and then reads what is left */
  readonly #reading = new Map<string, Promise<readonly JobEvent[]>>();

  constructor(
    private readonly read: Reader,
    private readonly maxEvents = MAX_CACHED_EVENTS,
  ) {}

  /** Every event of the job in stream order: the cached ones, then those the stream got since. */
  of(jobId: string): Promise<readonly JobEvent[]> {
    const before = this.#reading.get(jobId) ?? Promise.resolve([]);
    const p = before.catch(() => []).then(() => this.#read(jobId));
    this.#reading.set(jobId, p);
    void p
      .finally(() => {
        if (this.#reading.get(jobId) === p) this.#reading.delete(jobId);
      })
      .catch(() => undefined);
    return p;
  }

  async #read(jobId: string): Promise<readonly JobEvent[]> {
    const kept = this.#jobs.get(jobId) ?? { events: [], next: 1 };
    this.#jobs.delete(jobId);
    this.#total -= kept.events.length;
    try {
      for await (const { seq, event } of this.read(jobId, { from: kept.next, follow: false })) {
        kept.events.push(event);
        kept.next = seq + 1;
      }
    } finally {
      // what was read before a failure stays (the next call resumes after it)
      this.#jobs.set(jobId, kept);
      this.#total += kept.events.length;
    }
    // drop the least recently asked for jobs past the bound (never the one just read)
    for (const [id, j] of this.#jobs) {
      if (this.#total <= this.maxEvents || id === jobId) break;
      this.#jobs.delete(id);
      this.#total -= j.events.length;
    }
    return kept.events.slice();
  }

  /** The events held now, over all jobs. */
  get size(): number {
    return this.#total;
  }
}
