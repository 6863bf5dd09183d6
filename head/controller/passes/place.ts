/** The tick's placement pass: the scheduler's plan, each gang written as placed, then spawned. */
import type { HeadJob } from '../../state/job-store.ts';
import { isTerminal, placed } from '../../state/transitions.ts';
import { planPass } from '../../scheduler/plan.ts';
import type { ControllerCore } from '../core.ts';
import { actorIdOf } from '../options.ts';
import type { GangPlaced } from '../spawn-pipeline.ts';

export async function placePass(c: ControllerCore, now: number, spawn: (g: GangPlaced) => void): Promise<void> {
  for (const g of planPass(c.jobs.list(), c.nodes.list(), now)) await placeGang(c, g.job, g.nodeOfRank, g.gpusOfRank, spawn);
}

/**
 * Places the gang of `nodeOfRank` (with the GPU indices of `gpusOfRank`); the survivors of a
 * live gang (job.placement) keep their entries and are not spawned.
 */
async function placeGang(
  c: ControllerCore,
  job: HeadJob,
  nodeOfRank: string[],
  gpusOfRank: number[][],
  spawn: (g: GangPlaced) => void,
): Promise<void> {
  const gen = job.generation;
  const kept = job.placement;
  const placement = nodeOfRank.map(
    (nodeId, rank) =>
      kept.find((p) => p.rank === rank) ?? {
        rank,
        nodeId,
        actorId: actorIdOf(job.id, gen, rank),
        ...(gpusOfRank[rank]?.length ? { gpus: gpusOfRank[rank] } : {}),
      },
  );
  const fresh = placement.filter((p) => !kept.includes(p));
  let wrote = false;
  const j = await c.commit(job.id, (cur) => {
    const same = cur.placement.length === kept.length && cur.placement.every((p, i) => p.actorId === kept[i].actorId);
    if (cur.generation !== gen || !same || isTerminal(cur.state)) return null;
    wrote = true;
    return placed(cur, placement, Date.now());
  });
  if (!wrote) return;
  // spawns go out concurrently and outside the decision queue; a failure ends the generation
  spawn({ job: j, generation: gen, placement, fresh, kept, nodeOfRank });
}
