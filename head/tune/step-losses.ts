/**
 * A logreg trial's training loss per step, read from its job's metric events (rank 0 reports
 * `loss` for every step it applied): what ASHA judges a logreg trial's rungs by (runner.ts).
 */
import type { StoredEvent } from '../events/read.ts';

export async function stepLosses(events: AsyncIterable<StoredEvent>): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for await (const { event: e } of events) if (e.type === 'metric' && typeof e.values.loss === 'number') out.set(e.step, e.values.loss);
  return out;
}
