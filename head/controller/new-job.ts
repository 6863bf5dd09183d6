/** The record of a submitted job: pending, generation 0, waiting to be placed. */
import { randomBytes } from 'node:crypto';
import type { JobSpec } from '../../shared/schemas/job.ts';
import { WAITING } from '../scheduler/wait-reason.ts';
import type { HeadJob } from '../state/job-store.ts';

/** `seq`: this head's submit counter (orders jobs submitted in the same millisecond). */
export function pendingJob(
  spec: JobSpec,
  now: number,
  seq: number,
  o: { id?: string; owner?: string; study?: string; note?: string },
): HeadJob {
  const iso = new Date(now).toISOString();
  return {
    id: o.id ?? `j${now.toString(36)}${randomBytes(3).toString('hex')}`,
    spec,
    state: 'pending',
    generation: 0,
    restarts: 0,
    step: 0,
    checkpoint_step: null,
    placement: [],
    metrics: {},
    created_at: iso,
    updated_at: iso,
    ...(o.owner ? { owner: o.owner } : {}),
    ...(o.study ? { study: o.study } : {}),
    seq: now * 1000 + (seq % 1000),
    finished: [],
    message: o.note ?? WAITING,
  };
}
