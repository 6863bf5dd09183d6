/** A head's options (defaults from shared/config.ts DEFAULTS) and the running head startHead() returns. */
import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../shared/logger.ts';
import type { CredentialMinter } from './auth/minter.ts';
import type { TokenStore } from './auth/token-store.ts';
import type { Autoscaler, AutoscalerOptions } from './autoscaler/autoscaler.ts';
import type { Controller } from './controller.ts';

/** Options of a head; defaults from shared/config.ts DEFAULTS. */
export interface HeadOptions {
  natsUrl: string;
  /** the head's NATS creds (path or text); none for a server without auth */
  natsCreds?: string;
  /** the account signing key (seed or file) to mint worker and actor creds with; needs natsCreds */
  natsSigningKey?: string;
  /** revoker.json of the trust dir (path or text): revoking a worker token then disconnects its nodes (needs restAuth);
   * its system-account user also reads the client-disconnect advisories: a node whose agent closed
   * its connections is dead after a failed ping, not after the heartbeat timeout (supervisor/hints.ts) */
  natsRevoker?: string;
  /**
   * keep a pool worker join token in this file (written 0600 when it holds no valid one), for
   * workers that read theirs from a shared volume (auth/join-token-file.ts); needs restAuth
   */
  joinTokenFile?: string;
  prefix: string;
  /** HTTP listen address (default 127.0.0.1); `port: null` builds the app without listening */
  host?: string;
  /** HTTP port (default 8080; 0 = any free port) */
  port?: number | null;
  /** node dead after this much heartbeat silence (default 3000) */
  deadAfterMs?: number;
  /** first restart backoff, doubled per restart (default 500) */
  restartBackoffMs?: number;
  /**
   * REST authentication with tokens in KV (default false here: the library's tests drive the app
   * directly; every command turns it on unless --insecure)
   */
  restAuth?: boolean;
  /** the REST token cache's clock (ms; default Date.now): tests age a cached token without waiting */
  tokenClock?: () => number;
  /** roots a job's dataset / model paths must lie under (default ./datasets, ./models) */
  paths?: { datasets?: string; models?: string };
  /** serve REST over HTTPS with this certificate and key (PEM text) */
  tls?: { cert: string; key: string };
  /** replicas of every JetStream asset (default min(3, servers in the cluster)) */
  replicas?: number;
  /** scheduler/supervisor tick (default 250) */
  tickMs?: number;
  /** how long after its end a job still takes progress events (default 10000; controller.ts LATE_PROGRESS_MS) */
  lateProgressMs?: number;
  autoscaler?: AutoscalerOptions;
  /** a head that stops renewing its lease for this long is replaced by a standby (default deadAfterMs) */
  leaseMs?: number;
  /** called if another head takes the lease over (default: this head stops deciding) */
  onLeaseLost?: () => void;
  log?: Logger;
}

export interface Head {
  /** http://host:port, or '' when not listening */
  url: string;
  id: string;
  app: FastifyInstance;
  ctl: Controller;
  nc: NatsConnection;
  autoscaler?: Autoscaler;
  /** mints worker join tokens and actor creds (absent on a server without auth) */
  minter?: CredentialMinter;
  /** REST tokens (absent with auth off) */
  tokens?: TokenStore;
  /** an admin token made because none existed (first start): print it once, it is stored only hashed */
  firstAdminToken?: string;
  stop(): Promise<void>;
}
