/**
 * Progress buffering: rank 0's metric events and the checkpoint events update a job's step,
 * metrics and newest checkpoint in memory; the controller writes them to the job record in its
 * serial path (each tick, and before a generation ends). A job that ended still takes progress
 * for `lateMs` (its last metrics may arrive after its exits: another stream); later events, like
 * those of creds a node kept, change nothing.
 */
import type { Logger } from '../../shared/logger.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { HeadJob, JobStore } from '../state/job-store.ts';
import { isTerminal } from '../state/transitions.ts';

export interface Progress {
  generation: number;
  step?: number;
  values?: Record<string, number>;
  checkpoint?: number;
}

/** The job with the progress events' step, metrics and newest checkpoint; null when they belong to another generation (or there are none). */
export function withProgress(cur: HeadJob, p: Progress | undefined): HeadJob | null {
  if (!p || cur.generation !== p.generation) return null;
  const next = { ...cur };
  if (p.step !== undefined) next.step = p.step;
  if (p.values) next.metrics = { ...cur.metrics, ...p.values };
  if (p.checkpoint !== undefined && p.checkpoint > (cur.checkpoint_step ?? -1)) next.checkpoint_step = p.checkpoint;
  return next;
}

export class ProgressBuffer {
  readonly #progress = new Map<string, Progress>();
  /** when this head saw each job end (late progress is taken for lateMs after it) */
  readonly #endedAt = new Map<string, number>();

  constructor(
    private readonly jobs: JobStore,
    private readonly log: Logger,
    private readonly lateMs: number,
  ) {}

  /** Takes a job's buffered progress out of the buffer. */
  take(id: string): Progress | undefined {
    const p = this.#progress.get(id);
    this.#progress.delete(id);
    return p;
  }

  /** Puts back what take() took (a write that did not happen). */
  putBack(id: string, p: Progress): void {
    this.#progress.set(id, p);
  }

  /** Drops a job's buffered progress (a new generation: the old one's no longer applies). */
  drop(id: string): void {
    this.#progress.delete(id);
  }

  /** The job ended at `now`: its late progress is taken for a while. */
  ended(id: string, now: number): void {
    this.#endedAt.set(id, now);
  }

  /** A metric or checkpoint event from the events stream. */
  onEvent(e: JobEvent): void {
    if (e.type !== 'metric' && e.type !== 'checkpoint') return;
    // progress may arrive after the exits (another stream): a finished job still takes it, for a
    // while: an actor's creds outlive its job, and what they send later must not rewrite the record
    const j = this.jobs.get(e.jobId);
    if (!j || e.generation !== j.generation) return;
    if (isTerminal(j.state)) {
      const at = this.#endedAt.get(j.id);
      if (at === undefined || Date.now() - at > this.lateMs) return;
    }
    const cur = this.#progress.get(e.jobId);
    const p: Progress = cur && cur.generation === e.generation ? cur : { generation: e.generation };
    // the epoch rides along in metrics so job lists can show it without reading the event stream
    if (e.type === 'metric' && e.rank === 0) {
      p.step = e.step;
      p.values = { ...p.values, ...e.values, ...(e.epoch !== undefined ? { epoch: e.epoch } : {}) };
    }
    if (e.type === 'checkpoint') p.checkpoint = Math.max(p.checkpoint ?? 0, e.step);
    this.#progress.set(e.jobId, p);
  }

  /** Writes every buffered progress to its job (run in the controller's serial path). */
  async flush(): Promise<void> {
    const pending = [...this.#progress.entries()];
    this.#progress.clear();
    for (const [id, p] of pending) {
      await this.jobs
        .update(id, (cur) => withProgress(cur, p))
        .catch((e: Error) => this.log.warn({ job: id, err: e.message }, 'progress not saved'));
    }
  }

  /** Forgets the end times older than lateMs. */
  expire(now: number): void {
    for (const [id, at] of this.#endedAt) if (now - at > this.lateMs) this.#endedAt.delete(id);
  }
}
