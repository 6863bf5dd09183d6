/** What the REST routes need from the head, as one interface (the app factory's options). */
import type { Logger } from '../../shared/logger.ts';
import type { Controller } from '../controller.ts';
import type { TokenStore } from '../auth/token-store.ts';
import type { SubmitLimits } from './submit-checks.ts';
import type { CredentialMinter } from '../auth/minter.ts';
import type { StoredEvent, ReadOptions } from '../events/read.ts';
import type { FaultDirector } from '../faults/director.ts';
import type { StudyRunner } from '../tune/runner.ts';
import type { StudyStore } from '../state/study-store.ts';

export interface Artifact {
  size: number;
  body: ReadableStream<Uint8Array>;
}

/** /healthz: ok is false (503) while the head's view of NATS is not whole, with the reason. */
export interface Health {
  ok: boolean;
  nats: string;
  head: string;
  uptime_s: number;
  stale_ms: number;
  reason?: string;
}

export interface ApiContext {
  ctl: Controller;
  /** hyperparameter studies (docs/tune.md): their records and the runner that makes their trials */
  studies: { store: StudyStore; runner: StudyRunner };
  /** arms faults on running jobs (POST /v1/jobs/:id/faults) */
  faults: FaultDirector;
  /** REST tokens; absent: authentication off (--insecure) */
  tokens?: TokenStore;
  /** issues worker join tokens (absent on a NATS server without auth) */
  minter?: CredentialMinter;
  /** dataset/model roots and the pool's rank limit checked at submit */
  submitLimits: SubmitLimits;
  /** a worker join token was revoked: its pool joins are refused from now on, its NATS users revoked on the servers */
  onWorkerTokenRevoked?(id: string): Promise<void>;
  events(jobId: string, opts: ReadOptions): AsyncIterable<StoredEvent>;
  artifact(jobId: string, name: string): Promise<Artifact | null>;
  artifactNames(jobId: string): Promise<Array<{ name: string; bytes: number }>>;
  health(): Health;
  /** how old the head's job state may be: 0 while it is connected and its lease renews */
  staleMs(): number;
  metrics(): string;
}

export interface BuildOptions {
  ctx: ApiContext;
  /** pino logger for requests (default: fastify's logging off) */
  log?: Logger;
  /** serve HTTPS with this certificate and key (PEM) */
  https?: { cert: string; key: string };
}
