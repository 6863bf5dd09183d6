/** A collective group as the engine's SyncComm (engine/sync): float32 sums unless fp16 is asked for, gathers as they are. */
import type { SyncComm } from '../engine/sync/index.ts';
import type { CollectiveGroup } from './group.ts';

export function syncComm(group: CollectiveGroup): SyncComm {
  return {
    rank: group.rank,
    worldSize: group.worldSize,
    allreduce: (data, o) => group.allreduce(data, { op: 'sum', fp16: o?.fp16 ?? false }),
    allgather: (data) => group.allgather(data),
  };
}
