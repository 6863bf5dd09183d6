/**
 * Each job's own object stores (checkpoints, artifacts), one JetStream stream per job and
 * kind, so an actor's permissions can name its job's buckets and no other job's (see
 * auth/nats-permissions.ts). The head makes both before it spawns the job's first actors,
 * mostly while the job still waits in the queue (the controller's lookahead) (with the replica count of the other assets, retried through elections), and seals both
 * when the job ends: a sealed stream takes no new object, deletion or purge from anyone, so
 * the artifacts stay downloadable and the last checkpoints stay as they were (the retention
 * the actors applied: the newest `keep` per job), while actor credentials a node kept past the
 * job's end can change nothing there. Nothing removes a job's buckets: jobs are never deleted.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { JOB_STORE_KINDS, type JobStoreKind, type Subjects } from '../shared/subjects.ts';
import { ensureObjectStore, type AssetReport } from '../shared/js-assets.ts';
import { withJsRetry, type JsRetryOptions } from '../shared/js-retry.ts';
import { openJobStore } from '../shared/job-stores.ts';

export class JobStores {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #s: Subjects;
  readonly #replicas: number;
  readonly #retry: JsRetryOptions;
  /** jobs whose stores this head made or found (a placement after the first asks no server) */
  readonly #ensured = new Set<string>();
  readonly #open = new Map<string, ObjectStore>();
  /** jobs whose stores are being made now (made ahead while queued, or by a placement) */
  readonly #making = new Map<string, Promise<AssetReport[]>>();

  constructor(d: {
    nc: NatsConnection;
    js: JetStreamClient;
    jsm: JetStreamManager;
    s: Subjects;
    replicas: number;
    retry?: JsRetryOptions;
  }) {
    this.#nc = d.nc;
    this.#js = d.js;
    this.#jsm = d.jsm;
    this.#s = d.s;
    this.#replicas = d.replicas;
    this.#retry = d.retry ?? {};
  }

  /**
   * Makes the job's stores unless they exist (idempotent, race-safe: a call while another is
   * making them waits for that one); resolves with what was done to each.
   */
  ensure(jobId: string): Promise<AssetReport[]> {
    if (this.#ensured.has(jobId)) return Promise.resolve([]);
    let making = this.#making.get(jobId);
    if (!making) {
      making = Promise.all(
        JOB_STORE_KINDS.map(async (kind) => {
          const r = await ensureObjectStore(this.#js, this.#jsm, this.#s.jobStore(jobId, kind), this.#replicas, this.#retry);
          this.#open.set(this.#s.jobStore(jobId, kind), r.os);
          return r.report;
        }),
      )
        .then((out) => {
          this.#ensured.add(jobId);
          return out;
        })
        .finally(() => this.#making.delete(jobId));
      this.#making.set(jobId, making);
    }
    return making;
  }

  /** The job's store of `kind`, or null when the job never had one (it was never placed). */
  async open(jobId: string, kind: JobStoreKind): Promise<ObjectStore | null> {
    const bucket = this.#s.jobStore(jobId, kind);
    const hit = this.#open.get(bucket);
    if (hit) return hit;
    const os = await openJobStore(this.#nc, this.#s, jobId, kind, this.#retry);
    if (os) this.#open.set(bucket, os);
    return os;
  }

  /** Seals the job's stores (a job that ended); a store that is missing or already sealed is left alone. Resolves with the stores it sealed. */
  async seal(jobId: string): Promise<string[]> {
    const sealed: string[] = [];
    for (const kind of JOB_STORE_KINDS) {
      const os = await this.open(jobId, kind);
      if (!os) continue;
      const bucket = this.#s.jobStore(jobId, kind);
      const st = await withJsRetry(`status of ${bucket}`, () => os.status(), this.#retry);
      if (st.sealed) continue;
      await withJsRetry(`seal ${bucket}`, () => os.seal(), this.#retry);
      sealed.push(bucket);
    }
    this.#ensured.delete(jobId);
    return sealed;
  }
}
