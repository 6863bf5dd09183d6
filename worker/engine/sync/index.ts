/** Sync strategies (docs/sync.md): allreduce, local SGD, DiLoCo and streaming DiLoCo, with compressed exchanges. */
export { SyncStrategy, SYNC_STATE_FORMAT } from './strategy.ts';
export type { SyncStateMeta, SyncTarget, SyncVector } from './strategy.ts';
export { soloComm } from './comm.ts';
export type { SyncComm } from './comm.ts';
export { sentBytes, sumOverRanks } from './exchange.ts';
export { INT8_CHUNK, decode, encode, payloadBytes, asBytes, asWords } from './compress.ts';
export type { Codec } from './compress.ts';
export { ALLREDUCE_SYNC } from './options.ts';
export type { SyncCompression, SyncMode, SyncSettings } from './options.ts';
export { trainerSyncTarget } from './trainer-target.ts';
