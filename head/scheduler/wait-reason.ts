/**
 * What a pending job's message says while it waits: a gang larger than every slot the pool has
 * says so, with what to do, instead of a bare "waiting for a placement" (a head without an
 * autoscaler cannot know whether more nodes will join, so the job waits rather than fail). A
 * message the head did not write this way (the submit-time `unschedulable:` note of a head with
 * an autoscaler) is left as it is.
 */
import type { HeadJob } from '../state/job-store.ts';
import type { LiveNode } from '../state/node-store.ts';
import { poolSlots } from './plan.ts';
import { minRanks } from './queue.ts';

export const WAITING = 'waiting for a placement';

/** Whether `message` is one this module writes (and may rewrite). */
export function isWaitMessage(message: string | undefined): boolean {
  return message === WAITING || /^waiting for \d+ slot\(s\): /.test(message ?? '');
}

/** The message a pending job should show now, or null to leave it as it is. */
export function waitReason(job: HeadJob, nodes: readonly LiveNode[]): string | null {
  if (job.state !== 'pending' || !isWaitMessage(job.message)) return null;
  const need = minRanks(job);
  const pool = poolSlots(nodes);
  if (need <= pool) return WAITING;
  const live = nodes.filter((n) => !n.record.draining).length;
  return `waiting for ${need} slot(s): the pool has ${pool} on ${live} node(s); add workers or scale the job down (PATCH workers)`;
}
