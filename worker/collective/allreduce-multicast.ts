/**
 * Broker-multicast allreduce: every rank sends each shard to its owner (reduce-scatter in one
 * step), then each owner publishes its reduced shard once and the NATS server fans it out to
 * every rank. Two steps instead of 2(N−1); each rank uploads S instead of 2(N−1)/N·S.
 * When the members are a subset of the group (node leaders), the fan-out is N−1 sends.
 * An owner adds the contributions to its shard in rank order, whatever order they arrive in
 * (ordered-sum.ts), so a run is reproducible; every rank then holds the owner's result, so
 * replicas stay identical.
 */
import { chunk, chunksPerSegment, segment, type Range } from './layout.ts';
import type { Comm, OpContext } from './op.ts';
import { recvOrderedSum } from './ordered-sum.ts';
import { encodeRange, roundToWire } from './wire.ts';

const empty = (r: Range): boolean => r.end <= r.start;
const noop = (): void => {};

export async function multicastAllreduce(op: OpContext, data: Float32Array, comm: Comm): Promise<void> {
  const n = comm.members.length;
  if (n <= 1 || data.length === 0) return;
  const i = comm.index;
  const k = chunksPerSegment(data.length, n, op.chunkElems);
  const fp16 = op.fp16;
  const t = comm.tag;
  const whole = n === op.worldSize;
  const others: number[] = [];
  for (let o = 0; o < n; o++) if (o !== i) others.push(o);

  const chain = async (j: number): Promise<void> => {
    const piece = (o: number): Range => chunk(segment(data.length, n, o), k, j);
    const mine = piece(i);
    const reduced = empty(mine) ? undefined : recvOrderedSum(op, `${t}s`, j, comm.members, comm.members[i], data, mine);
    reduced?.catch(noop); // awaited below
    const gathered = Promise.all(
      others.map((o) => {
        const r = piece(o);
        return empty(r) ? undefined : op.recvInto(`${t}b`, comm.members[o], j, data, r, 'copy');
      }),
    );
    gathered.catch(noop); // awaited below; a failure before then is reported by the reduce
    for (const o of others) {
      const r = piece(o);
      // not borrowed: changed only after its owner replied
      if (!empty(r)) op.send(comm.members[o], `${t}s`, j, encodeRange(data, r, fp16), false);
    }
    if (reduced) {
      await reduced;
      const out = encodeRange(data, mine, fp16);
      roundToWire(data, mine, out, fp16);
      if (whole) op.sendAll(`${t}b`, j, out, !fp16);
      else for (const o of others) op.send(comm.members[o], `${t}b`, j, out, !fp16);
    }
    await gathered;
  };

  const chains: Promise<void>[] = [];
  for (let j = 0; j < k; j++) chains.push(chain(j));
  await Promise.all(chains);
}
