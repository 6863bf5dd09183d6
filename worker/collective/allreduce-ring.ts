/**
 * Ring allreduce: reduce-scatter then allgather, N−1 steps each, every rank sending to the
 * next. The buffer is cut into N segments and every segment into K chunks; each chunk index
 * runs its own chain of steps, so up to K chunks are in flight at once (pipelining). Every
 * receive of a chain is registered up front, so the lane streams each message straight into
 * its place (the regions of different steps are disjoint, and a region is overwritten in the
 * allgather only by a message that causally follows this rank's send of it).
 */
import { chunk, chunksPerSegment, segment, type Range } from './layout.ts';
import type { Comm, OpContext } from './op.ts';
import { encodeRange, roundToWire } from './wire.ts';

const mod = (a: number, n: number): number => ((a % n) + n) % n;
const empty = (r: Range): boolean => r.end <= r.start;
const noop = (): void => {};

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
    // reduce-scatter step s: send piece(i−s), receive piece(i−s−1) and add it;
    // allgather step s: send piece(i+1−s), receive piece(i−s)
    const expect = (tag: string, r: Range, mode: 'add' | 'copy'): Promise<void> | undefined => {
      if (empty(r)) return undefined;
      const p = op.recvInto(tag, prev, j, data, r, mode);
      p.catch(noop); // awaited in order below; the first failure is the one reported
      return p;
    };
    const rs: (Promise<void> | undefined)[] = [];
    const ag: (Promise<void> | undefined)[] = [];
    for (let s = 0; s < n - 1; s++) {
      rs.push(expect(`${t}r${s}`, piece(i - s - 1), 'add'));
      ag.push(expect(`${t}a${s}`, piece(i - s), 'copy'));
    }
    const first = piece(i);
    if (!empty(first)) op.send(next, `${t}r0`, j, encodeRange(data, first, fp16), false);
    for (let s = 0; s < n - 1; s++) {
      if (!rs[s]) continue;
      await rs[s];
      // not borrowed: changed again only after it went round the ring
      if (s < n - 2) op.send(next, `${t}r${s + 1}`, j, encodeRange(data, piece(i - s - 1), fp16), false);
    }
    // piece(i+1) is now fully reduced here
    const own = piece(i + 1);
    if (!empty(own)) {
      const p = encodeRange(data, own, fp16);
      roundToWire(data, own, p, fp16);
      op.send(next, `${t}a0`, j, p, !fp16);
    }
    for (let s = 0; s < n - 1; s++) {
      if (!ag[s]) continue;
      await ag[s];
      // fp16 values are exact halves by now, so re-encoding forwards exactly what arrived
      if (s < n - 2) op.send(next, `${t}a${s + 1}`, j, encodeRange(data, piece(i - s), fp16), !fp16);
    }
  };

  const chains: Promise<void>[] = [];
  for (let j = 0; j < k; j++) chains.push(chain(j));
  await Promise.all(chains);
}
