/** Job artifacts (final weights, result tables) in the job's own Object Store (`jobStore(jobId, 'art')`, made by the head), named `<jobId>/<name>`. */
import type { NatsConnection } from '@nats-io/transport-node';
import { FlotillaError } from '../../shared/errors.ts';
import { subjects } from '../../shared/subjects.ts';
import { withJsRetry } from '../../shared/js-retry.ts';
import { requireJobStore } from '../../shared/job-stores.ts';

export function artifactName(jobId: string, name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name))
    throw new FlotillaError('FLO_VALIDATION', `artifact name '${name}': use 1-128 of [A-Za-z0-9_.-]`);
  return `${jobId}/${name}`;
}

/** Stores (or replaces) one artifact of a job; resolves with its size in bytes. */
export async function putArtifact(nc: NatsConnection, prefix: string, jobId: string, name: string, data: Uint8Array): Promise<number> {
  const os = await requireJobStore(nc, subjects(prefix), jobId, 'art');
  const key = artifactName(jobId, name);
  const info = await withJsRetry(`store artifact ${key}`, () => os.putBlob({ name: key }, data));
  return info.size;
}

/** One artifact of a job, or null when there is none. */
export async function getArtifact(nc: NatsConnection, prefix: string, jobId: string, name: string): Promise<Uint8Array | null> {
  const os = await requireJobStore(nc, subjects(prefix), jobId, 'art');
  const key = artifactName(jobId, name);
  return withJsRetry(`read artifact ${key}`, () => os.getBlob(key));
}
