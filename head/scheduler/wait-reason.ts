/**
 * What a pending job's message says while it waits: a gang larger than every slot the pool has
 * says so, with what to do, instead of a bare "waiting for a placement" (a head without an
 * autoscaler cannot know whether more nodes will join, so the job waits rather than fail). A job
 * that asks for GPUs says whether the pool could ever hold it (GPUs per node, not only slots)
 * and, when it could, how many GPUs are free now. A message the head did not write this way
 * (the submit-time `unschedulable:` note of a head with an autoscaler) is left as it is.
 */
import type { HeadJob } from '../state/job-store.ts';
import type { LiveNode } from '../state/node-store.ts';
import { gpusPerRank, poolGpus, poolRanks, poolSlots } from './plan.ts';
import { ranksFit, type NodeCapacity } from './placement.ts';
import { minRanks } from './queue.ts';

export const WAITING = 'waiting for a placement';

/** Whether `message` is one this module writes (and may rewrite). */
export function isWaitMessage(message: string | undefined): boolean {
  return message === WAITING || /^waiting for (\d+ slot\(s\)|\d+ rank\(s\) of \d+ GPU\(s\)|GPUs): /.test(message ?? '');
}

/**
 * The message a pending job should show now, or null to leave it as it is. `free`: the pool's
 * capacity now (scheduler/plan.ts capacity), for the GPUs free at this moment.
 */
export function waitReason(job: HeadJob, nodes: readonly LiveNode[], free: readonly NodeCapacity[] = []): string | null {
  if (job.state !== 'pending' || !isWaitMessage(job.message)) return null;
  const need = minRanks(job);
  const g = gpusPerRank(job);
  const live = nodes.filter((n) => !n.record.draining).length;
  if (g > 0) {
    const fit = poolRanks(nodes, g);
    if (need > fit) {
      return `waiting for ${need} rank(s) of ${g} GPU(s): the pool has ${poolGpus(nodes)} GPU(s) on ${live} node(s) and can hold ${fit} such rank(s); add GPU workers or scale the job down (PATCH workers)`;
    }
    const now = free.reduce((a, n) => a + ranksFit(n, g), 0);
    if (now < need) {
      const idle = free.reduce((a, n) => a + (n.gpus?.length ?? 0), 0);
      return `waiting for GPUs: ${need} rank(s) x ${g} GPU(s) wanted, ${idle} of ${poolGpus(nodes)} free now (room for ${now} rank(s))`;
    }
    return WAITING;
  }
  const pool = poolSlots(nodes);
  if (need <= pool) return WAITING;
  return `waiting for ${need} slot(s): the pool has ${pool} on ${live} node(s); add workers or scale the job down (PATCH workers)`;
}
