/** The tick's grow pass: elastic live gangs below their size grow when a slot is free (the new ranks get the state from the gang). */
import { grown, isElastic } from '../../state/transitions.ts';
import { capacity } from '../../scheduler/plan.ts';
import { traitsOf } from '../../../shared/trainer-traits.ts';
import type { ControllerCore } from '../core.ts';

export async function growPass(c: ControllerCore): Promise<void> {
  const free = capacity(c.jobs.list(), c.nodes.list()).reduce((a, n) => a + n.free, 0);
  if (free === 0) return;
  for (const j of c.jobs.list()) {
    if (
      j.state !== 'running' ||
      j.spec.recovery !== 'live' ||
      !isElastic(j) ||
      j.placement.length >= j.spec.workers ||
      j.finished.length > 0
    )
      continue;
    // not in the last tenth: ranks finishing while the new one starts would leave it alone in the new generation
    if (j.step >= traitsOf(j.spec.trainer).growsBefore(j.spec.trainer)) continue;
    await c.commit(j.id, (cur) => (cur.generation === j.generation && cur.state === 'running' ? grown(cur) : null));
    return; // one per pass: the next pass sees the capacity this one took
  }
}
