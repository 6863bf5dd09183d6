/** worker/collective: allreduce, broadcast, allgather and barrier over NATS. */
export { createGroup } from './group.ts';
export type { Group, GroupEvents, OpEvent } from './group.ts';
export type { AlgorithmName, AllreduceOptions, GroupOptions, OpOptions, ReduceOp } from './options.ts';
export { DEFAULT_CHUNK_BYTES, DEFAULT_LANES, DEFAULT_TIMEOUT_MS } from './options.ts';
export { CollectiveAbortedError, CollectiveConnectionError, CollectiveError, CollectiveTimeoutError } from './errors.ts';
export { autoAlgorithm } from './select.ts';
export type { ConcreteAlgorithm } from './select.ts';
export { topology } from './topology.ts';
export type { Topology } from './topology.ts';
export { decodeHalf, encodeHalf, floatToHalf } from './fp16.ts';
export { connectRawLane, RawLane, RawLaneUnsupported } from './raw-lane.ts';
export type { RawLaneOptions } from './raw-lane.ts';
export type { RawLaneSecurity } from './raw-handshake.ts';
export type { Lane, LaneHandler } from './lane.ts';
export { LinkShaper, type ShaperCounters } from './shaper.ts';
