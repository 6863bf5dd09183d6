/**
 * The tick's wait-reason pass: a job bigger than the whole pool says so (and what to do) while
 * it waits; not while a fresh head still hears its nodes come back, and a few writes per pass at most.
 */
import { capacity } from '../../scheduler/plan.ts';
import { waitReason } from '../../scheduler/wait-reason.ts';
import type { ControllerCore } from '../core.ts';
import { WAIT_REASON_WRITES } from '../options.ts';

export async function waitReasonPass(c: ControllerCore, now: number, startedAt: number): Promise<void> {
  if (now - startedAt <= 2 * c.opts.deadAfterMs) return;
  let writes = 0;
  const nodes = c.nodes.list();
  const free = capacity(c.jobs.list(), nodes);
  for (const j of c.jobs.list()) {
    const why = waitReason(j, nodes, free);
    if (why === null || why === j.message) continue;
    await c.commit(j.id, (cur) => (cur.state === 'pending' && cur.message === j.message ? { ...cur, message: why } : null));
    if (++writes >= WAIT_REASON_WRITES) break;
  }
}
