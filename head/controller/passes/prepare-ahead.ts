/**
 * The tick's prepare-ahead pass: for the jobs next in the queue (as many as the pool has slots,
 * at most PREPARE_AHEAD_MAX), their object stores, made while other jobs run, so a placement's
 * path to its spawn does not hold them (two stream creations cost 50-200 ms on a loaded 2-core machine).
 */
import { poolSlots } from '../../scheduler/plan.ts';
import { waitQueue } from '../../scheduler/queue.ts';
import { isTerminal } from '../../state/transitions.ts';
import type { ControllerCore } from '../core.ts';
import { PREPARE_AHEAD_MAX, type JobStoreKeeper } from '../options.ts';

export function prepareAheadPass(c: ControllerCore, now: number, stores: JobStoreKeeper | undefined, seal: (id: string) => void): void {
  if (!stores) return;
  const n = Math.min(PREPARE_AHEAD_MAX, Math.max(1, poolSlots(c.nodes.list())));
  for (const job of waitQueue(c.jobs.list(), now).slice(0, n)) {
    if (job.generation > 0) continue; // a restart: its stores were made by its first placement
    void stores.ensure(job.id).then(
      // it ended while they were being made (its seal found none): seal them now
      () => {
        if (isTerminal(c.jobs.get(job.id)?.state ?? 'pending')) seal(job.id);
      },
      (e: Error) => c.log.debug({ job: job.id, err: e.message }, 'job stores not made ahead (made at placement)'),
    );
  }
}
