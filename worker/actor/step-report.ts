/**
 * Every applied step is reported once, by rank 0, also across a live regroup. Rank 0 reports a
 * step after applying it; a rank 0 killed between the two leaves its last step unreported, and its
 * replacement (or the survivor renumbered to rank 0) resumes after it with a peer's state. So
 * rank 0 of every (re)formed gang reports the agreed step again with the generation that applied
 * it: reportStep derives the message id from (generation, step), so the events stream stores it
 * only when the lost rank 0's report never arrived.
 */
import type { ActorContext } from './context.ts';

/**
 * Rank 0, after the gang agreed on the state at `step` (state-sync.ts): reports `step` (applied in
 * `appliedIn`; undefined when the state came from a checkpoint, whose step was reported when it
 * was trained) and the steps the gang applied while this rank's last allreduce failed (`behind`:
 * its own step before it received the state).
 */
export async function reportAgreed(
  ctx: ActorContext,
  step: number,
  appliedIn: number | undefined,
  behind: number | undefined,
): Promise<void> {
  if (ctx.spec.rank !== 0 || step <= 0) return;
  if (appliedIn !== undefined) {
    for (let s = Math.min(behind ?? step - 1, step - 1) + 1; s <= step; s++) await ctx.reportStep(s, {}, undefined, appliedIn);
  } else if (behind !== undefined) {
    for (let s = behind + 1; s <= step; s++) await ctx.emitMetric(s, {});
  }
}
