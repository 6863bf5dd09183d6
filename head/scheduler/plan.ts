/**
 * One scheduling pass, pure: from the jobs and the live nodes, which waiting jobs get which
 * nodes now. Free slots of a node = its slots minus every actor that holds one, whether the
 * head placed it (non-terminal placements) or the node still reports it (an aborted actor that
 * has not exited yet). The queue is strict: a job that cannot be placed now blocks the jobs
 * behind it, unless it could not fit even in the whole pool (it waits for new nodes without
 * holding everyone else back). GPUs count the same way: a node's free GPUs are its advertised
 * ones minus those every placement and every reported actor holds, and a job asking for GPUs
 * per rank fits the whole pool only if its nodes have enough GPUs, not only enough slots.
 */
import type { HeadJob } from '../state/job-store.ts';
import type { LiveNode } from '../state/node-store.ts';
import { placeGang, consume, assignGpus, type NodeCapacity } from './placement.ts';
import { waitQueue, minRanks } from './queue.ts';
import { isElastic } from '../state/transitions.ts';

export interface PlannedGang {
  job: HeadJob;
  /** node id per rank */
  nodeOfRank: string[];
  /** GPU indices per rank, on its node (empty lists for a job that asks for none; a survivor's own) */
  gpusOfRank: number[][];
}

/** GPUs each rank of a job needs. */
export function gpusPerRank(job: HeadJob): number {
  return job.spec.gpus_per_rank ?? 0;
}

export function capacity(jobs: readonly HeadJob[], nodes: readonly LiveNode[]): NodeCapacity[] {
  const held = new Map<string, Set<string>>();
  const hold = (nodeId: string, actorId: string) => {
    let set = held.get(nodeId);
    if (!set) held.set(nodeId, (set = new Set()));
    set.add(actorId);
  };
  const busyGpus = new Map<string, Set<number>>();
  const holdGpus = (nodeId: string, gpus: readonly number[] | undefined) => {
    if (!gpus?.length) return;
    let set = busyGpus.get(nodeId);
    if (!set) busyGpus.set(nodeId, (set = new Set()));
    for (const g of gpus) set.add(g);
  };
  for (const j of jobs)
    for (const p of j.placement) {
      hold(p.nodeId, p.actorId);
      holdGpus(p.nodeId, p.gpus);
    }
  for (const n of nodes)
    for (const a of n.record.actors) {
      hold(n.record.nodeId, a.actorId);
      holdGpus(n.record.nodeId, a.gpus);
    }
  return nodes
    .filter((n) => !n.record.draining)
    .map((n) => {
      const free = Math.max(0, n.record.slots - (held.get(n.record.nodeId)?.size ?? 0));
      const all = n.record.gpus ?? [];
      if (all.length === 0) return { nodeId: n.record.nodeId, free };
      const busy = busyGpus.get(n.record.nodeId);
      return {
        nodeId: n.record.nodeId,
        free,
        gpus: all
          .map((g) => g.index)
          .filter((g) => !busy?.has(g))
          .sort((a, b) => a - b),
      };
    });
}

/** Total slots of the schedulable pool (busy or not). */
export function poolSlots(nodes: readonly LiveNode[]): number {
  return nodes.filter((n) => !n.record.draining).reduce((a, n) => a + n.record.slots, 0);
}

/** Ranks of `gpus` GPUs each that the whole schedulable pool could hold if it were idle. */
export function poolRanks(nodes: readonly LiveNode[], gpus: number): number {
  if (gpus <= 0) return poolSlots(nodes);
  return nodes
    .filter((n) => !n.record.draining)
    .reduce((a, n) => a + Math.min(n.record.slots, Math.floor((n.record.gpus?.length ?? 0) / gpus)), 0);
}

/** GPUs of the schedulable pool (busy or not). */
export function poolGpus(nodes: readonly LiveNode[]): number {
  return nodes.filter((n) => !n.record.draining).reduce((a, n) => a + (n.record.gpus?.length ?? 0), 0);
}

export function planPass(jobs: readonly HeadJob[], nodes: readonly LiveNode[], now: number): PlannedGang[] {
  let free = capacity(jobs, nodes);
  const out: PlannedGang[] = [];
  for (const job of waitQueue(jobs, now)) {
    const g = gpusPerRank(job);
    let gang: string[] | null = null;
    // a live gang: its lost ranks only (an elastic one takes what fits, at least one)
    if (job.placement.length > 0)
      for (let k = minRanks(job); k >= (isElastic(job) ? 1 : minRanks(job)) && !gang; k--) gang = placeGang(free, k, g);
    else for (let k = job.spec.workers; k >= minRanks(job) && !gang; k--) gang = placeGang(free, k, g);
    if (gang) {
      const gpus = assignGpus(free, gang, g);
      out.push(job.placement.length > 0 ? withSurvivors(job, gang, gpus) : { job, nodeOfRank: gang, gpusOfRank: gpus });
      free = consume(free, gang, gpus);
    } else if (minRanks(job) <= poolRanks(nodes, g)) {
      break;
    }
  }
  return out;
}

/** The whole gang: the survivors' nodes and GPUs at their ranks, `fresh` ones (in rank order) at the missing ranks. */
function withSurvivors(job: HeadJob, fresh: readonly string[], freshGpus: readonly number[][]): PlannedGang {
  const nodeOfRank: string[] = [];
  const gpusOfRank: number[][] = [];
  let i = 0;
  for (let r = 0; r < job.placement.length + fresh.length; r++) {
    const kept = job.placement.find((p) => p.rank === r);
    if (kept) {
      nodeOfRank.push(kept.nodeId);
      gpusOfRank.push(kept.gpus ?? []);
    } else {
      nodeOfRank.push(fresh[i]);
      gpusOfRank.push(freshGpus[i]);
      i++;
    }
  }
  return { job, nodeOfRank, gpusOfRank };
}

/** Slots the queue needs beyond what is free now (the autoscaler's demand signal). */
export function unmetDemand(jobs: readonly HeadJob[], nodes: readonly LiveNode[]): number {
  const free = capacity(jobs, nodes).reduce((a, n) => a + n.free, 0);
  const want = jobs
    .filter((j) => j.state === 'pending' || (j.state === 'recovering' && j.placement.length < j.spec.workers))
    .reduce((a, j) => a + minRanks(j), 0);
  return Math.max(0, want - free);
}
