/** A way to start and stop worker nodes: local child processes, user commands, any cloud. */
import { natsSettingsEnv } from '../../shared/nats-settings.ts';

export interface WorkerProvider {
  readonly name: string;
  /** the platform names the nodes it starts (so a started worker joins with a pool token) */
  readonly namesNodes?: boolean;
  /** starts one worker that will register as `nodeId`, joining with `joinToken` (absent on a server without auth) */
  up(nodeId: string, joinToken?: string): Promise<void>;
  /** stops a worker this provider started (graceful: the agent drains, then exits) */
  down(nodeId: string): Promise<void>;
  /** node ids this provider started and has not stopped */
  list(): string[];
  /** stops every worker it started (head shutdown); providers of long-lived machines may keep them */
  close(): Promise<void>;
}

/** What every worker process needs to find its cluster. */
export interface WorkerEnv {
  natsUrl: string;
  prefix: string;
  /** slots per worker (default 1) */
  slots: number;
}

/** The worker's env: its cluster (with this process's NATS CA and JetStream domain), its id and its join token; the head's own credentials are blanked. */
export function workerEnv(w: WorkerEnv, nodeId: string, joinToken?: string): Record<string, string> {
  return {
    ...natsSettingsEnv(),
    FLOTILLA_NATS_URL: w.natsUrl,
    FLOTILLA_PREFIX: w.prefix,
    FLOTILLA_NODE_ID: nodeId,
    FLOTILLA_SLOTS: String(w.slots),
    FLOTILLA_NATS_CREDS: '',
    FLOTILLA_NATS_SIGNING_KEY: '',
    FLOTILLA_NATS_REVOKER: '',
    FLOTILLA_JOIN_TOKEN: joinToken ?? '',
  };
}
