/**
 * Opening a job's own object stores (its checkpoints, its artifacts; bucket names from
 * `subjects().jobStore`). The head makes both before it spawns the job's actors
 * (head/job-stores.ts); everyone else only opens them: an actor's credential may use its own
 * job's two stores and create no stream, so a store that is missing stays missing here.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { FlotillaError } from './errors.ts';
import { jsClient } from './js-domain.ts';
import { withJsRetry, type JsRetryOptions } from './js-retry.ts';
import type { JobStoreKind, Subjects } from './subjects.ts';

const WHAT: Record<JobStoreKind, string> = { ckpt: 'checkpoint', art: 'artifact' };

/** Job `jobId`'s store of `kind`, or null when it does not exist (yet). Transient JetStream errors are retried. */
export function openJobStore(
  nc: NatsConnection,
  s: Subjects,
  jobId: string,
  kind: JobStoreKind,
  r: JsRetryOptions = {},
): Promise<ObjectStore | null> {
  const bucket = s.jobStore(jobId, kind);
  const js = jsClient(nc);
  return withJsRetry(
    `open object store ${bucket}`,
    async () => {
      try {
        return await new Objm(js).open(bucket);
      } catch (e) {
        // nats.js turns "stream not found" into this message
        if (e instanceof Error && e.message === 'object store not found') return null;
        throw e;
      }
    },
    r,
  );
}

/** As openJobStore, for an actor of the job: a missing store is a retryable FLO_UNAVAILABLE (the head makes it before any spawn). */
export async function requireJobStore(
  nc: NatsConnection,
  s: Subjects,
  jobId: string,
  kind: JobStoreKind,
  r: JsRetryOptions = {},
): Promise<ObjectStore> {
  const os = await openJobStore(nc, s, jobId, kind, r);
  if (!os)
    throw new FlotillaError(
      'FLO_UNAVAILABLE',
      `job ${jobId} has no ${WHAT[kind]} store ${s.jobStore(jobId, kind)}: the head makes it before it spawns the job's actors`,
    );
  return os;
}
