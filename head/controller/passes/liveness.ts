/**
 * The tick's liveness pass: nodes whose heartbeats stopped are dead, placed actors their node
 * no longer reports are lost. A head that hears no node at all and has no round trip to NATS
 * declares nobody dead (the silence it hears is its own).
 */
import { deadNodes, missingActors } from '../../supervisor/liveness.ts';
import type { ControllerCore } from '../core.ts';

export class LivenessPass {
  /** actor id -> when its node last reported it (ms) */
  readonly #lastReported = new Map<string, number>();

  /** `startedAt`: when this head started (its nodes get a grace period from then). */
  constructor(
    private readonly c: ControllerCore,
    private readonly startedAt: number,
  ) {}

  /** `since`: when the head's view of NATS was last whole. False: nothing heard at all, the tick stops here. */
  async run(now: number, since: number, reachable: () => Promise<boolean>): Promise<boolean> {
    const c = this.c;
    const dead = deadNodes(c.nodes.list(), now, c.opts.deadAfterMs, since);
    if (dead.length > 1 && dead.length === c.nodes.list().length && !(await reachable())) {
      c.log.warn({ nodes: dead.length }, 'hearing no node at all and no round trip to NATS: not declaring anyone dead');
      return false;
    }
    for (const nodeId of dead) await c.nodeDied(nodeId, 'heartbeats stopped');
    const byId = new Map(c.nodes.list().map((n) => [n.record.nodeId, n]));
    // the generation each job had when its actors were found missing: two missing ranks end it once
    const genOf = new Map(c.jobs.list().map((j) => [j.id, j.generation]));
    const grace = Math.max(this.startedAt, since);
    for (const m of missingActors(c.jobs.list(), byId, this.#lastReported, now, c.opts.actorGraceMs, grace)) {
      const g = genOf.get(m.jobId);
      if (g !== undefined) await c.endGeneration(m.jobId, g, 'retryable', `actor ${m.actorId} on ${m.nodeId} is gone`, [m.actorId]);
    }
    return true;
  }
}
