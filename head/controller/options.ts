/** The controller's settings, its limits, and the names it gives actors. */
export interface ControllerOptions {
  deadAfterMs: number;
  restartBackoffMs: number;
  /** how long a spawn request may take (default 15000) */
  spawnTimeoutMs: number;
  /** a placed actor its node has not reported for this long is lost (default 2 * deadAfterMs) */
  actorGraceMs: number;
  /**
   * how long after its end a job still takes progress events (its last metrics may arrive after
   * its exits: another stream); later ones, like those of creds a node kept, change nothing (default LATE_PROGRESS_MS)
   */
  lateProgressMs?: number;
}

/** Default of ControllerOptions.lateProgressMs. */
export const LATE_PROGRESS_MS = 10_000;

/** Pending jobs whose wait message (scheduler/wait-reason.ts) one tick may rewrite, at most. */
export const WAIT_REASON_WRITES = 32;

/** Jobs whose object stores are made ahead of their placement, at most. */
export const PREPARE_AHEAD_MAX = 16;

/** The id of rank `rank`'s actor in the job's generation `generation`. */
export function actorIdOf(jobId: string, generation: number, rank: number): string {
  return `${jobId}-g${generation}-r${rank}`;
}

/** A job's own object stores (head/job-stores.ts): made before its actors are spawned, sealed when it ends. */
export interface JobStoreKeeper {
  ensure(jobId: string): Promise<unknown>;
  seal(jobId: string): Promise<unknown>;
}

/** Records the NATS users (public keys) of the actor credentials minted for a node, before they are sent to it: revoking the node revokes them (auth/token-store.ts). */
export type ActorUsersIssued = (nodeId: string, users: string[]) => Promise<void>;
