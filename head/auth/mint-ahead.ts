/**
 * Actor creds minted ahead: a user key pair and a signed JWT cost ~10 ms of CPU on an idle core
 * and 40-80 ms on a loaded 2-core machine, and a placement used to pay it between its KV write
 * and its spawn. The scheduler names the jobs next in its queue; their actors' creds are minted
 * then, while other jobs run, and taken (once) by their placement. Creds of a job that moved on
 * (another generation, an end) are dropped at the next pass; nothing is kept beyond the lookahead.
 */
import type { HeadJob } from '../state/job-store.ts';
import type { CredentialMinter } from './minter.ts';

/** The id of rank `rank`'s actor in the job's current generation (the controller's naming). */
export function actorIdOf(jobId: string, generation: number, rank: number): string {
  return `${jobId}-g${generation}-r${rank}`;
}

interface Minted { jobId: string; generation: number; creds: Promise<string> }

export class CredsAhead {
  readonly #minter: CredentialMinter;
  readonly #minted = new Map<string, Minted>();

  constructor(minter: CredentialMinter) { this.#minter = minter; }

  /** Creds for these actors of the jobs next in line (`ranks`: the ones still to place); drops the stale ones. */
  prepare(next: ReadonlyArray<{ job: HeadJob; ranks: readonly number[] }>, current: (jobId: string) => HeadJob | undefined): void {
    for (const [id, m] of this.#minted) {
      const j = current(m.jobId);
      if (!j || j.generation !== m.generation || (j.state !== 'pending' && j.state !== 'recovering')) this.#minted.delete(id);
    }
    for (const { job, ranks } of next) {
      for (const rank of ranks) {
        const id = actorIdOf(job.id, job.generation, rank);
        if (this.#minted.has(id)) continue;
        const creds = this.#minter.actor(job.id, id);
        creds.catch(() => undefined); // a failed one is minted again by take()
        this.#minted.set(id, { jobId: job.id, generation: job.generation, creds });
      }
    }
  }

  /** The actor's creds: minted ahead (and forgotten here), or minted now. */
  async take(jobId: string, actorId: string): Promise<string> {
    const m = this.#minted.get(actorId);
    this.#minted.delete(actorId);
    if (m && m.jobId === jobId) {
      try { return await m.creds; } catch { /* minted now, below */ }
    }
    return this.#minter.actor(jobId, actorId);
  }

  /** how many are held (tests) */
  get size(): number { return this.#minted.size; }
}
