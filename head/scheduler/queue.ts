/**
 * The wait queue: jobs that need a placement, in the order they get one. Recovering jobs
 * (which held slots a moment ago) go first, then higher priority, then FIFO by `seq`.
 */
import type { HeadJob } from '../state/job-store.ts';

/** True when the job waits for a placement now (backoff elapsed). */
export function needsPlacement(j: HeadJob, now: number): boolean {
  if (j.state !== 'pending' && j.state !== 'recovering') return false;
  // a live-recovering gang keeps its survivors placed and waits for its lost ranks only
  if (j.placement.length >= (j.state === 'recovering' ? j.spec.workers : 1)) return false;
  return !j.not_before || Date.parse(j.not_before) <= now;
}

export function queueOrder(a: HeadJob, b: HeadJob): number {
  const ra = a.state === 'recovering' ? 0 : 1;
  const rb = b.state === 'recovering' ? 0 : 1;
  return ra - rb || b.spec.priority - a.spec.priority || a.seq - b.seq;
}

/** Jobs waiting for a placement, in queue order. */
export function waitQueue(jobs: readonly HeadJob[], now: number): HeadJob[] {
  return jobs.filter((j) => needsPlacement(j, now)).sort(queueOrder);
}

/** Smallest gang a job accepts now: elastic jobs may shrink while recovering. */
export function minRanks(j: HeadJob): number {
  if (j.placement.length > 0) return j.spec.workers - j.placement.length; // the lost ranks of a live gang, exactly
  return j.state === 'recovering' ? Math.min(j.spec.workers, j.spec.min_workers ?? j.spec.workers) : j.spec.workers;
}
