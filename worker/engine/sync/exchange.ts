/**
 * The sum of one float32 vector over the ranks, in the precision a job asked for, with the
 * same bits on every rank:
 *   none  the collective's float32 allreduce (owners add in rank order, every rank gets the owner's result)
 *   fp16  the collective's fp16 allreduce (owners round their copy to what they send)
 *   bf16, int8  every rank publishes its encoded vector once (an allgather: the server fans it out);
 *         every rank decodes all of them and adds them in rank order, so all hold the same sum
 * With error feedback (bf16/int8) a rank adds the rounding error of its previous send to the
 * vector before encoding and keeps the new error: what it fails to send is sent later.
 */
import type { SyncCompression } from './options.ts';
import { asBytes, asWords, decode, encode, payloadBytes } from './compress.ts';
import type { SyncComm } from './comm.ts';

/** Bytes this rank hands to the collective for `n` values (the ring sends up to twice that). */
export function sentBytes(compress: SyncCompression, n: number): number {
  if (compress === 'none') return 4 * n;
  if (compress === 'fp16') return 2 * n;
  return payloadBytes(compress, n);
}

/**
 * Replaces `data` with its sum over the ranks. `residual` (bf16/int8 error feedback) is this
 * rank's carried rounding error for this vector, updated in place; omit it for none.
 */
export async function sumOverRanks(comm: SyncComm, data: Float32Array, compress: SyncCompression, residual?: Float32Array): Promise<void> {
  if (compress === 'none' || compress === 'fp16') {
    await comm.allreduce(data, { fp16: compress === 'fp16' });
    return;
  }
  if (residual) for (let i = 0; i < data.length; i++) data[i] += residual[i];
  const payload = encode(compress, data);
  if (residual) {
    // what the others will decode of this rank's send; the rest is carried to the next one
    decode(compress, payload, residual, 'copy');
    for (let i = 0; i < data.length; i++) residual[i] = data[i] - residual[i];
  }
  const all = await comm.allgather(asWords(payload));
  data.fill(0);
  for (const words of all) decode(compress, asBytes(words), data, 'add');
}
