/**
 * An actor exit (from the durable exits stream; may be a redelivery), decided in the
 * controller's serial path. `sender`: the node whose subject it came on (only that node may
 * publish there); it must be the node the head placed this actor on, for the job's current
 * generation (older and future ones are dropped). `kick`: runs a tick soon (slots came free).
 */
import type { ActorExit } from '../../shared/schemas/actor.ts';
import { isTerminal, rankSucceeded, successRefusal, type GenerationEnd } from '../state/transitions.ts';
import type { ControllerCore } from './core.ts';
import { withProgress } from './progress.ts';

export async function actorExited(c: ControllerCore, x: ActorExit, sender: string | undefined, kick: () => void): Promise<void> {
  const j = c.jobs.get(x.jobId);
  const p = j?.placement.find((q) => q.actorId === x.actorId);
  if (sender !== x.nodeId || (p && (p.nodeId !== sender || p.rank !== x.rank))) {
    c.log.warn(
      { job: x.jobId, actor: x.actorId, sender, claimed: x.nodeId },
      'dropped an actor exit from a node that does not run that actor',
    );
    return;
  }
  // a survivor kept by live recovery still reports the generation it was spawned in
  const kept = p !== undefined && x.generation < (j?.generation ?? 0);
  if (!j || isTerminal(j.state) || (x.generation !== j.generation && !kept) || !p) {
    c.log.debug({ job: x.jobId, actor: x.actorId, generation: x.generation }, 'ignored exit of a stale actor');
    return;
  }
  const log = c.log.child({ job: x.jobId, actor: x.actorId, rank: x.rank, generation: x.generation });
  log.info({ outcome: x.outcome }, 'actor exited');
  if (x.outcome.kind === 'succeeded') {
    // the last steps ride in the same write, so a finished job shows its final step
    const p = c.progress.take(x.jobId);
    const cur = c.jobs.get(x.jobId) ?? j;
    const refused = successRefusal(withProgress(cur, p) ?? cur, x.rank, x.outcome.step);
    if (refused) {
      if (p) c.progress.putBack(x.jobId, p);
      log.warn({ step: x.outcome.step }, refused);
      await c.endGeneration(x.jobId, x.generation, 'retryable', refused);
      return;
    }
    const after = await c.commit(x.jobId, (cur) =>
      cur.generation === x.generation ? rankSucceeded(withProgress(cur, p) ?? cur, x.rank, x.outcome.step, x.outcome.digest) : null,
    );
    // its slots are free now: the queue moves at once, not at the next periodic pass
    if (isTerminal(after.state)) kick();
    return;
  }
  const end: GenerationEnd = x.outcome.kind === 'fatal' ? 'fatal' : 'retryable';
  const why = `rank ${x.rank} ${x.outcome.kind === 'cancelled' ? 'was stopped' : 'failed'}: ${x.outcome.message || x.outcome.signal || `exit ${x.outcome.exitCode}`}`;
  await c.endGeneration(x.jobId, j.generation, end, why, [x.actorId]);
  // a live gang waits for its replacement: place it now, not at the next periodic tick
  kick();
}
