/**
 * Liveness checks, pure: nodes silent for longer than `deadAfterMs` (plus the lateness their
 * recent heartbeats showed, capped at LATE_ALLOWANCE x deadAfterMs), and placed actors that
 * their node has not reported for longer than a grace period (a spawn lost when a head died
 * between writing a placement and sending it, or an exit that never came). Silence counts
 * only from `since`: when the head's own view of the cluster last became whole (head/view.ts).
 */
import type { HeadJob } from '../state/job-store.ts';
import type { LiveNode } from '../state/node-store.ts';

/** A slow node's extra silence is capped at this many dead periods. */
export const LATE_ALLOWANCE = 2;

export function deadNodes(nodes: readonly LiveNode[], now: number, deadAfterMs: number, since = 0): string[] {
  return nodes
    .filter((n) => now - Math.max(n.heardAt, since) > deadAfterMs + Math.min(n.lateMs, LATE_ALLOWANCE * deadAfterMs))
    .map((n) => n.record.nodeId);
}

export interface MissingActor {
  jobId: string;
  actorId: string;
  nodeId: string;
}

/**
 * `lastReported` (actor id -> ms) is updated in place with every actor a node reports now;
 * an actor counts as missing once neither a report nor its placement is newer than `graceMs`.
 * `since` (head start) also counts as a report, so a new head gives every actor a full grace.
 */
export function missingActors(
  jobs: readonly HeadJob[],
  nodes: ReadonlyMap<string, LiveNode>,
  lastReported: Map<string, number>,
  now: number,
  graceMs: number,
  since: number,
): MissingActor[] {
  const out: MissingActor[] = [];
  for (const j of jobs) {
    if (j.state !== 'running') continue;
    for (const p of j.placement) {
      if (j.finished.includes(p.rank)) continue;
      // an unknown node counts as not reporting (a head may have died between removing a
      // dead node and ending its jobs' generation)
      const node = nodes.get(p.nodeId);
      if (node?.record.actors.some((a) => a.actorId === p.actorId)) {
        lastReported.set(p.actorId, now);
        continue;
      }
      const last = Math.max(lastReported.get(p.actorId) ?? 0, j.placed_at ?? 0, since);
      if (now - last > graceMs) out.push({ jobId: j.id, actorId: p.actorId, nodeId: p.nodeId });
    }
  }
  return out;
}
