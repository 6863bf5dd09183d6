/**
 * What a sync strategy needs of the ranks: the collective's allreduce and allgather (a job's
 * group fits), or `soloComm` for one process. The engine imports nothing of the platform: the
 * actor passes its group in through this interface.
 */
export interface SyncComm {
  readonly rank: number;
  readonly worldSize: number;
  /** sums `data` over the ranks in place, the same bits on every rank; `fp16` on the wire when asked */
  allreduce(data: Float32Array, opts?: { fp16?: boolean }): Promise<void>;
  /** every rank's `data`, indexed by rank, bit for bit */
  allgather(data: Float32Array): Promise<Float32Array[]>;
}

/** One process: sums and gathers of itself. */
export const soloComm: SyncComm = {
  rank: 0,
  worldSize: 1,
  allreduce: async () => {},
  allgather: async (data) => [data.slice()],
};
