/**
 * One scheduling pass, pure: from the jobs and the live nodes, which waiting jobs get which
 * nodes now. Free slots of a node = its slots minus every actor that holds one, whether the
 * head placed it (non-terminal placements) or the node still reports it (an aborted actor that
 * has not exited yet). The queue is strict: a job that cannot be placed now blocks the jobs
 * behind it, unless it could not fit even in the whole pool (it waits for new nodes without
 * holding everyone else back).
 */
import type { HeadJob } from '../state/job-store.ts';
import type { LiveNode } from '../state/node-store.ts';
import { placeGang, consume, type NodeCapacity } from './placement.ts';
import { waitQueue, minRanks } from './queue.ts';
import { isElastic } from '../state/transitions.ts';

export interface PlannedGang {
  job: HeadJob;
  /** node id per rank */
  nodeOfRank: string[];
}

export function capacity(jobs: readonly HeadJob[], nodes: readonly LiveNode[]): NodeCapacity[] {
  const held = new Map<string, Set<string>>();
  const hold = (nodeId: string, actorId: string) => {
    let set = held.get(nodeId);
    if (!set) held.set(nodeId, (set = new Set()));
    set.add(actorId);
  };
  for (const j of jobs) for (const p of j.placement) hold(p.nodeId, p.actorId);
  for (const n of nodes) for (const a of n.record.actors) hold(n.record.nodeId, a.actorId);
  return nodes
    .filter((n) => !n.record.draining)
    .map((n) => ({ nodeId: n.record.nodeId, free: Math.max(0, n.record.slots - (held.get(n.record.nodeId)?.size ?? 0)) }));
}

/** Total slots of the schedulable pool (busy or not). */
export function poolSlots(nodes: readonly LiveNode[]): number {
  return nodes.filter((n) => !n.record.draining).reduce((a, n) => a + n.record.slots, 0);
}

export function planPass(jobs: readonly HeadJob[], nodes: readonly LiveNode[], now: number): PlannedGang[] {
  let free = capacity(jobs, nodes);
  const pool = poolSlots(nodes);
  const out: PlannedGang[] = [];
  for (const job of waitQueue(jobs, now)) {
    let gang: string[] | null = null;
    // a live gang: its lost ranks only (an elastic one takes what fits, at least one)
    if (job.placement.length > 0) for (let k = minRanks(job); k >= (isElastic(job) ? 1 : minRanks(job)) && !gang; k--) gang = placeGang(free, k);
    else for (let k = job.spec.workers; k >= minRanks(job) && !gang; k--) gang = placeGang(free, k);
    if (gang) {
      out.push({ job, nodeOfRank: job.placement.length > 0 ? withSurvivors(job, gang) : gang });
      free = consume(free, gang);
    } else if (minRanks(job) <= pool) {
      break;
    }
  }
  return out;
}

/** The whole gang's nodes: the survivors' at their ranks, `fresh` (in rank order) at the missing ranks. */
function withSurvivors(job: HeadJob, fresh: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  for (let r = 0; r < job.placement.length + fresh.length; r++) out.push(job.placement.find((p) => p.rank === r)?.nodeId ?? fresh[i++]);
  return out;
}

/** Slots the queue needs beyond what is free now (the autoscaler's demand signal). */
export function unmetDemand(jobs: readonly HeadJob[], nodes: readonly LiveNode[]): number {
  const free = capacity(jobs, nodes).reduce((a, n) => a + n.free, 0);
  const want = jobs
    .filter((j) => j.state === 'pending' || (j.state === 'recovering' && j.placement.length < j.spec.workers))
    .reduce((a, j) => a + minRanks(j), 0);
  return Math.max(0, want - free);
}
