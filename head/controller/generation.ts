/** The decisions that end a generation: an actor or node lost, a drain, a fatal exit. */
import {
  endGeneration as ended,
  incidentRestart,
  isTerminal,
  liveRecovery,
  sameIncident,
  type GenerationEnd,
} from '../state/transitions.ts';
import type { ControllerCore } from './core.ts';

/**
 * `lost`: the actors that are gone. A retryable loss in a job with recovery 'live' keeps the
 * other ranks (liveRecovery); otherwise, or with no survivor, the whole gang restarts.
 */
export async function endGeneration(
  c: ControllerCore,
  id: string,
  generation: number,
  end: GenerationEnd,
  reason: string,
  lost?: string[],
): Promise<void> {
  if (end === 'retryable' || lost) await c.progress.flush(); // the step, for sameIncident
  await c.commit(id, (cur) => {
    if (cur.generation !== generation || isTerminal(cur.state)) return null;
    if (end === 'retryable' && sameIncident(cur)) return incidentRestart(cur, reason, c.opts.restartBackoffMs, Date.now());
    // a drain ('rescale' with the leaving node's ranks) keeps the survivors too, uncounted
    const live =
      (end === 'retryable' || end === 'rescale') && lost && cur.spec.recovery === 'live' && cur.state === 'running'
        ? liveRecovery(cur, lost, reason, Date.now(), end === 'retryable')
        : null;
    return live ?? ended(cur, end, reason, c.opts.restartBackoffMs, Date.now());
  });
}

export async function nodeDied(c: ControllerCore, nodeId: string, why: string): Promise<void> {
  // a node that announced its drain and then went away left as planned: not a failure
  if (c.nodes.get(nodeId)?.record.draining) c.log.info({ node: nodeId, why }, `node left after draining (${why})`);
  else c.log.warn({ node: nodeId, why }, `node is dead (${why})`);
  await c.nodes.remove(nodeId);
  for (const j of c.jobs.list()) {
    if (!isTerminal(j.state) && j.placement.some((p) => p.nodeId === nodeId)) {
      await c.endGeneration(
        j.id,
        j.generation,
        'retryable',
        `node ${nodeId} was lost (${why})`,
        j.placement.filter((p) => p.nodeId === nodeId).map((p) => p.actorId),
      );
    }
  }
}
