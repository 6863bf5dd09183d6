/**
 * Gang placement: all ranks of a job or none. Ranks of one job are packed onto as few nodes
 * as possible: a single node that fits the whole gang is chosen best-fit (the fullest one that
 * still fits); otherwise the nodes with the most free slots are taken first. Ranks are
 * contiguous per node, so neighbours in a ring share a node.
 */

export interface NodeCapacity {
  nodeId: string;
  /** free slots now */
  free: number;
}

/** Node id for each rank (index = rank), or null when the gang does not fit. */
export function placeGang(nodes: readonly NodeCapacity[], ranks: number): string[] | null {
  if (ranks <= 0) return [];
  const usable = nodes.filter((n) => n.free > 0);
  const total = usable.reduce((a, n) => a + n.free, 0);
  if (total < ranks) return null;
  const byId = (a: NodeCapacity, b: NodeCapacity) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0);
  const single = usable.filter((n) => n.free >= ranks).sort((a, b) => a.free - b.free || byId(a, b))[0];
  if (single) return Array.from({ length: ranks }, () => single.nodeId);
  const out: string[] = [];
  for (const n of [...usable].sort((a, b) => b.free - a.free || byId(a, b))) {
    const take = Math.min(n.free, ranks - out.length);
    for (let i = 0; i < take; i++) out.push(n.nodeId);
    if (out.length === ranks) break;
  }
  return out;
}

/** Subtracts a placement from a capacity list (returns a new list). */
export function consume(nodes: readonly NodeCapacity[], nodeOfRank: readonly string[]): NodeCapacity[] {
  const used = new Map<string, number>();
  for (const id of nodeOfRank) used.set(id, (used.get(id) ?? 0) + 1);
  return nodes.map((n) => ({ nodeId: n.nodeId, free: n.free - (used.get(n.nodeId) ?? 0) }));
}
