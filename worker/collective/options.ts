/** Options of a group and of its operations, with their defaults. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { RawLaneSecurity } from './raw-handshake.ts';
import type { Lane } from './lane.ts';

export type AlgorithmName = 'auto' | 'ring' | 'multicast' | 'hierarchical';
export type ReduceOp = 'sum' | 'mean';

export interface GroupOptions {
  /** the rank's main connection (control traffic; data too when no `connect` is given) */
  nc: NatsConnection;
  /** factory for extra data connections ("lanes"); the group owns and closes them */
  connect?: () => Promise<NatsConnection>;
  /** subjects(prefix).collective(jobId, generation) */
  subjectBase: string;
  jobId: string;
  generation: number;
  rank: number;
  worldSize: number;
  /** node id per rank (default: all on one node) */
  nodeOfRank?: string[];
  /** per operation (default 30000) */
  timeoutMs?: number;
  /** for the join handshake in createGroup (default: timeoutMs) */
  joinTimeoutMs?: number;
  /** default 'auto': hierarchical across nodes, else the flat algorithm for the size */
  algorithm?: AlgorithmName;
  /** float16 on the wire for allreduce (default false) */
  fp16?: boolean;
  /** aborts every pending and future operation of the group */
  signal?: AbortSignal;
  /** data connections per rank (default DEFAULT_LANES) */
  lanes?: number;
  /**
   * 'raw' (default): the library's own publish/subscribe-only client to `dataServer` (with
   * `laneSecurity`'s creds and TLS), falling back to 'nats' when the server wants auth it has no
   * creds for or cannot be reached; 'nats': connections from `connect` (or the main connection when there is none).
   */
  laneTransport?: 'raw' | 'nats';
  /** credentials and TLS of raw lanes (default none: a server that requires auth gets nats.js lanes) */
  laneSecurity?: RawLaneSecurity;
  /** "host:port" for raw lanes (default: the main connection's current server) */
  dataServer?: string;
  /** further servers (URLs or "host:port") raw lanes try, in order, when the first one fails */
  dataServers?: string[];
  /** largest data message; capped by the servers' max_payload (default DEFAULT_CHUNK_BYTES) */
  chunkBytes?: number;
  /**
   * how long a lost data connection may take to come back before the group fails
   * (CollectiveConnectionError); meanwhile the operations in flight wait and then run again in a
   * new epoch (group.ts). Default: timeoutMs; 0: fail at once, and operations save no input.
   */
  reconnectMs?: number;
  /** puts something in front of every data lane (a LinkShaper for link faults); default none */
  wrapLane?: (lane: Lane) => Lane;
}

export interface OpOptions {
  signal?: AbortSignal;
  /** default: the group's timeoutMs */
  timeoutMs?: number;
}

export interface AllreduceOptions extends OpOptions {
  /** default 'sum' */
  op?: ReduceOp;
  /** default: the group's algorithm */
  algorithm?: AlgorithmName;
  /** default: the group's fp16 */
  fp16?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_LANES = 2;
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** how long one raw lane may take to connect before the next candidate (or nats.js) is tried */
export const RAW_CONNECT_TIMEOUT_MS = 5000;
/** how often a rank repeats that it is ready in a new epoch */
export const EPOCH_INTERVAL_MS = 100;
/** finished operations whose input a rank keeps, to run them again for a peer that lost their messages */
export const KEEP_DONE_OPS = 2;
/** how often a joining rank repeats its hello */
export const HELLO_INTERVAL_MS = 50;

/** Liveness probe window before a timeout: long enough for a busy peer to answer. */
export function probeWindowMs(timeoutMs: number): number {
  return Math.min(1000, Math.max(50, Math.floor(timeoutMs / 5)));
}
