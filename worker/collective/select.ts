/** The automatic choice of allreduce algorithm. */
import type { Topology } from './topology.ts';
import { isHierarchical } from './topology.ts';

export type ConcreteAlgorithm = 'ring' | 'multicast' | 'hierarchical';

/**
 * Across nodes with several ranks per node: hierarchical (intra-node bytes stay on the host's
 * leaf server). Otherwise multicast: through one broker it takes 2 steps instead of 2(N−1) and
 * uploads S instead of 2(N−1)/N·S per rank.
 */
export function autoAlgorithm(topo: Topology, _bytes: number): ConcreteAlgorithm {
  if (isHierarchical(topo)) return 'hierarchical';
  return 'multicast';
}
