/**
 * The one typed event of a committed job change. The controller's `commit` writes the change
 * (revision-checked, in its serial path) and then runs every listener in the order they were
 * added, each awaited: the side effects of a change (aborts, logs, events, sealing) are listeners
 * (listeners.ts), not code in the write path.
 */
import type { HeadJob } from '../state/job-store.ts';

export interface JobChanged {
  id: string;
  before: HeadJob;
  after: HeadJob;
  /** when the change was committed (ms epoch) */
  now: number;
}

export type JobChangedListener = (c: JobChanged) => Promise<void> | void;

export class JobChanges {
  readonly #listeners: JobChangedListener[] = [];

  on(l: JobChangedListener): void {
    this.#listeners.push(l);
  }

  async emit(c: JobChanged): Promise<void> {
    for (const l of this.#listeners) await l(c);
  }
}
