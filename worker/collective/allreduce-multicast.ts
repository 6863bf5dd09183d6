/**
 * Broker-multicast allreduce: every rank sends each shard to its owner (reduce-scatter in one
 * step), then each owner publishes its reduced shard once and the NATS server fans it out to
 * every rank. Two steps instead of 2(N−1); each rank uploads S instead of 2(N−1)/N·S.
 * When the members are a subset of the group (node leaders), the fan-out is N−1 sends.
 */
import { chunk, chunksPerSegment, segment, type Range } from './layout.ts';
import type { Comm, OpContext } from './op.ts';
import { addInto, copyInto, encodeRange, roundToWire } from './wire.ts';

const empty = (r: Range): boolean => r.end <= r.start;

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
    for (const o of others) {
      const r = piece(o);
      if (!empty(r)) op.send(comm.members[o], `${t}s`, j, encodeRange(data, r, fp16), false); // changed only after its owner replied
    }
    const mine = piece(i);
    const gathered = Promise.all(others.map(async (o) => {
      const r = piece(o);
      if (!empty(r)) copyInto(data, r, await op.recv(`${t}b`, comm.members[o], j), fp16);
    }));
    gathered.catch(() => {}); // awaited below; a failure before then is reported by the reduce
    if (!empty(mine)) {
      // sum in member order, so the result does not depend on arrival order
      const parts = await Promise.all(others.map((o) => op.recv(`${t}s`, comm.members[o], j)));
      for (const p of parts) addInto(data, mine, p, fp16);
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
