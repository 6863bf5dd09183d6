/**
 * Hierarchical allreduce: every rank sends its buffer to its node's leader (through the node's
 * leaf server this never leaves the host), the leaders allreduce among themselves with an
 * inner algorithm, and each leader publishes the result once to its node. A leader adds its
 * node's buffers in rank order (ordered-sum.ts), so a run is reproducible.
 */
import { chunksOf, type Range } from './layout.ts';
import type { AllreduceAlgorithm, Comm, OpContext } from './op.ts';
import { recvOrderedSum } from './ordered-sum.ts';
import type { Topology } from './topology.ts';
import { encodeRange, roundToWire } from './wire.ts';

const empty = (r: Range): boolean => r.end <= r.start;

export function hierarchicalAllreduce(topo: Topology, inner: AllreduceAlgorithm): AllreduceAlgorithm {
  return async (op: OpContext, data: Float32Array, comm: Comm): Promise<void> => {
    if (comm.members.length <= 1 || data.length === 0) return;
    const me = op.rank;
    const node = topo.nodeIndexOf[me];
    const local = topo.nodes[node];
    const leader = local[0];
    const fp16 = op.fp16;
    const chunks = chunksOf(data.length, op.chunkElems);
    const t = comm.tag;

    if (me !== leader) {
      const results = Promise.all(chunks.map((r, j) => (empty(r) ? undefined : op.recvInto(`${t}hd`, leader, j, data, r, 'copy'))));
      // not borrowed: changed only after the leader replied
      chunks.forEach((r, j) => {
        if (!empty(r)) op.send(leader, `${t}hu`, j, encodeRange(data, r, fp16), false);
      });
      await results;
      return;
    }
    const members = local.slice(1);
    await Promise.all(
      chunks.map((r, j) => (empty(r) || !members.length ? undefined : recvOrderedSum(op, `${t}hu`, j, local, me, data, r))),
    );
    await inner(op, data, { members: topo.leaders, index: topo.leaders.indexOf(me), tag: `${t}L` });
    if (!members.length) return;
    chunks.forEach((r, j) => {
      if (empty(r)) return;
      const p = encodeRange(data, r, fp16);
      roundToWire(data, r, p, fp16); // the leader keeps exactly what its node receives
      op.sendNode(node, `${t}hd`, j, p, !fp16);
    });
  };
}
