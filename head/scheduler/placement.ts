/**
 * Gang placement: all ranks of a job or none. Ranks of one job are packed onto as few nodes
 * as possible: a single node that fits the whole gang is chosen best-fit (the fullest one that
 * still fits); otherwise the nodes with the most free slots are taken first. Ranks are
 * contiguous per node, so neighbours in a ring share a node. A job that asks for GPUs per rank
 * counts, on each node, only the ranks its free GPUs can hold, and each rank gets its own
 * devices (the lowest free indices first).
 */

export interface NodeCapacity {
  nodeId: string;
  /** free slots now */
  free: number;
  /** free GPU indices now, ascending (absent or empty: none) */
  gpus?: number[];
}

/** Ranks of `gpusPerRank` GPUs each that a node can take now. */
export function ranksFit(n: NodeCapacity, gpusPerRank: number): number {
  if (gpusPerRank <= 0) return n.free;
  return Math.min(n.free, Math.floor((n.gpus?.length ?? 0) / gpusPerRank));
}

/** Node id for each rank (index = rank), or null when the gang does not fit. */
export function placeGang(nodes: readonly NodeCapacity[], ranks: number, gpusPerRank = 0): string[] | null {
  if (ranks <= 0) return [];
  const usable = nodes.map((n) => ({ nodeId: n.nodeId, free: ranksFit(n, gpusPerRank) })).filter((n) => n.free > 0);
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

/**
 * The devices of each rank of a placement: `gpusPerRank` distinct free indices of its node,
 * lowest first, none shared between ranks (empty lists when the job asks for none). Throws when
 * a node has too few, which placeGang rules out.
 */
export function assignGpus(nodes: readonly NodeCapacity[], nodeOfRank: readonly string[], gpusPerRank: number): number[][] {
  if (gpusPerRank <= 0) return nodeOfRank.map(() => []);
  const left = new Map(nodes.map((n) => [n.nodeId, [...(n.gpus ?? [])].sort((a, b) => a - b)]));
  return nodeOfRank.map((id) => {
    const free = left.get(id) ?? [];
    if (free.length < gpusPerRank) throw new Error(`node ${id} has ${free.length} free GPU(s), a rank needs ${gpusPerRank}`);
    return free.splice(0, gpusPerRank);
  });
}

/** Subtracts a placement (and the GPUs it took) from a capacity list (returns a new list). */
export function consume(
  nodes: readonly NodeCapacity[],
  nodeOfRank: readonly string[],
  gpusOfRank: readonly (readonly number[])[] = [],
): NodeCapacity[] {
  const used = new Map<string, number>();
  const taken = new Map<string, Set<number>>();
  nodeOfRank.forEach((id, rank) => {
    used.set(id, (used.get(id) ?? 0) + 1);
    for (const g of gpusOfRank[rank] ?? []) {
      let s = taken.get(id);
      if (!s) taken.set(id, (s = new Set()));
      s.add(g);
    }
  });
  return nodes.map((n) => ({
    nodeId: n.nodeId,
    free: n.free - (used.get(n.nodeId) ?? 0),
    ...(n.gpus ? { gpus: n.gpus.filter((g) => !taken.get(n.nodeId)?.has(g)) } : {}),
  }));
}
