/** Job artifacts (final weights, result tables) in the Object Store `artifactStore`, named `<jobId>/<name>`. */
import type { NatsConnection } from '@nats-io/transport-node';
import { jsClient } from '../../shared/js-domain.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { subjects } from '../../shared/subjects.ts';
import { withJsRetry } from '../../shared/js-retry.ts';
import { jsManager, openObjectStore } from '../../shared/js-assets.ts';

export function artifactName(jobId: string, name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) throw new FlotillaError('FLO_VALIDATION', `artifact name '${name}': use 1-128 of [A-Za-z0-9_.-]`);
  return `${jobId}/${name}`;
}

/** Stores (or replaces) one artifact of a job; resolves with its size in bytes. */
export async function putArtifact(nc: NatsConnection, prefix: string, jobId: string, name: string, data: Uint8Array): Promise<number> {
  const os = await openObjectStore(jsClient(nc), await jsManager(nc), subjects(prefix).artifactStore);
  const key = artifactName(jobId, name);
  const info = await withJsRetry(`store artifact ${key}`, () => os.putBlob({ name: key }, data));
  return info.size;
}

/** One artifact of a job, or null when there is none. */
export async function getArtifact(nc: NatsConnection, prefix: string, jobId: string, name: string): Promise<Uint8Array | null> {
  const os = await openObjectStore(jsClient(nc), await jsManager(nc), subjects(prefix).artifactStore);
  const key = artifactName(jobId, name);
  return withJsRetry(`read artifact ${key}`, () => os.getBlob(key));
}
