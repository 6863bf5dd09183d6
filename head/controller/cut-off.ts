/**
 * Logs the head's view on a change of state only: cut off (and a change of the kind of
 * problem while cut off), then whole again with how long it was not. The reason's text carries
 * elapsed milliseconds, so it is compared without its figures.
 */
import type { Logger } from '../../shared/logger.ts';
import { problemKind } from '../view.ts';

export class CutOffLog {
  /** while cut off: what kind of problem (its text without the figures) and since when (ms epoch) */
  #cutOff: { kind: string; since: number } | null = null;

  constructor(private readonly log: Logger) {}

  note(why: string | null): void {
    const kind = why === null ? null : problemKind(why);
    if (kind === (this.#cutOff?.kind ?? null)) return;
    const now = Date.now();
    if (why !== null && kind !== null) {
      this.log.warn({ reason: why }, 'head is cut off from NATS: no liveness decisions until its view is whole');
      this.#cutOff = { kind, since: this.#cutOff?.since ?? now };
    } else if (this.#cutOff) {
      const ms = now - this.#cutOff.since;
      this.log.info({ cut_off_ms: ms }, `head view of NATS is whole again after ${ms} ms: every node gets a fresh grace period`);
      this.#cutOff = null;
    }
  }
}
