/**
 * Ring allreduce: reduce-scatter then allgather, N−1 steps each, every rank sending to the
 * next. The buffer is cut into N segments and every segment into K chunks; each chunk index
 * runs its own chain of steps, so up to K chunks are in flight at once (pipelining).
 */
import { chunk, chunksPerSegment, segment, type Range } from './layout.ts';
import type { Comm, OpContext } from './op.ts';
import { addInto, copyInto, encodeRange, roundToWire } from './wire.ts';

const mod = (a: number, n: number): number => ((a % n) + n) % n;
const empty = (r: Range): boolean => r.end <= r.start;

export async function ringAllreduce(op: OpContext, data: Float32Array, comm: Comm): Promise<void> {
  const n = comm.members.length;
  if (n <= 1 || data.length === 0) return;
  const i = comm.index;
  const next = comm.members[mod(i + 1, n)];
  const prev = comm.members[mod(i - 1, n)];
  const k = chunksPerSegment(data.length, n, op.chunkElems);
  const fp16 = op.fp16;
  const t = comm.tag;

  const chain = async (j: number): Promise<void> => {
    const piece = (s: number): Range => chunk(segment(data.length, n, mod(s, n)), k, j);
    // reduce-scatter: step s sends piece(i−s), receives piece(i−s−1) and adds it
    const first = piece(i);
    if (!empty(first)) op.send(next, `${t}r0`, j, encodeRange(data, first, fp16), false);
    for (let s = 0; s < n - 1; s++) {
      const r = piece(i - s - 1);
      if (empty(r)) continue;
      addInto(data, r, await op.recv(`${t}r${s}`, prev, j), fp16);
      if (s < n - 2) op.send(next, `${t}r${s + 1}`, j, encodeRange(data, r, fp16), false); // changed again only after it went round the ring
    }
    // piece(i+1) is now fully reduced here; allgather step s sends piece(i+1−s), receives piece(i−s)
    const own = piece(i + 1);
    if (!empty(own)) {
      const p = encodeRange(data, own, fp16);
      roundToWire(data, own, p, fp16);
      op.send(next, `${t}a0`, j, p, !fp16);
    }
    for (let s = 0; s < n - 1; s++) {
      const r = piece(i - s);
      if (empty(r)) continue;
      const buf = await op.recv(`${t}a${s}`, prev, j);
      copyInto(data, r, buf, fp16);
      if (s < n - 2) op.send(next, `${t}a${s + 1}`, j, buf, false); // forwarded as received
    }
  };

  const chains: Promise<void>[] = [];
  for (let j = 0; j < k; j++) chains.push(chain(j));
  await Promise.all(chains);
}
