/**
 * corrupt-checkpoint: the head (it alone may rewrite a job's checkpoints) flips bytes of the
 * job's newest checkpoint in the Object Store and puts it back under the same name with the
 * same metadata, so the SHA-256 recorded there no longer matches: the next restore must skip it
 * for the one before (worker/actor/checkpoint-store.ts).
 */
import type { ObjectStore } from '@nats-io/obj';
import { FlotillaError } from '../../shared/errors.ts';
import { withJsRetry } from '../../shared/js-retry.ts';

/** Bytes flipped (XOR 0xff), spread evenly over the object. */
export const FLIPPED_BYTES = 16;

/** Flips bytes of the newest `<jobId>/<step>` object of the job's checkpoint store (`os`: that store, or null when the job has none); resolves with its name and step. */
export async function corruptNewestCheckpoint(
  os: ObjectStore | null,
  jobId: string,
): Promise<{ name: string; step: number; flipped: number }> {
  if (!os) throw new FlotillaError('FLO_NOT_FOUND', `job ${jobId} has no checkpoint store yet`);
  const prefix = `${jobId}/`;
  const all = await withJsRetry(`list checkpoints of ${jobId}`, () => os.list());
  const newest = all
    .filter((i) => !i.deleted && i.name.startsWith(prefix) && /^\d+$/.test(i.name.slice(prefix.length)))
    .map((i) => ({ info: i, step: Number(i.name.slice(prefix.length)) }))
    .sort((a, b) => b.step - a.step)[0];
  if (!newest) throw new FlotillaError('FLO_NOT_FOUND', `job ${jobId} has no checkpoint yet`);
  const name = newest.info.name;
  const data = await withJsRetry(`read checkpoint ${name}`, () => os.getBlob(name));
  if (!data || data.length === 0) throw new FlotillaError('FLO_NOT_FOUND', `checkpoint ${name} is empty or gone`);
  const bytes = new Uint8Array(data);
  const n = Math.min(FLIPPED_BYTES, bytes.length);
  for (let i = 0; i < n; i++) bytes[Math.floor((i * bytes.length) / n)] ^= 0xff;
  await withJsRetry(`rewrite checkpoint ${name}`, () => os.putBlob({ name, metadata: newest.info.metadata ?? {} }, bytes));
  return { name, step: newest.step, flipped: n };
}
