/** Which ranks share a node, and who leads each node (its lowest rank). */
export interface Topology {
  /** node index of every rank */
  readonly nodeIndexOf: readonly number[];
  /** ranks of every node, ascending; the first is the node's leader */
  readonly nodes: readonly (readonly number[])[];
  /** one leader per node, in node order */
  readonly leaders: readonly number[];
}

export function topology(worldSize: number, nodeOfRank?: readonly string[]): Topology {
  const ids = new Map<string, number>();
  const nodeIndexOf: number[] = [];
  const nodes: number[][] = [];
  for (let r = 0; r < worldSize; r++) {
    const id = nodeOfRank?.[r] ?? 'local';
    let k = ids.get(id);
    if (k === undefined) {
      k = nodes.length;
      ids.set(id, k);
      nodes.push([]);
    }
    nodeIndexOf.push(k);
    nodes[k].push(r);
  }
  return { nodeIndexOf, nodes, leaders: nodes.map((n) => n[0]) };
}

/** More than one node, and at least one node with more than one rank. */
export function isHierarchical(t: Topology): boolean {
  return t.nodes.length > 1 && t.nodes.some((n) => n.length > 1);
}
