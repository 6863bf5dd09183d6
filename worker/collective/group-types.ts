import type { AllreduceOptions, OpOptions } from './options.ts';
import type { ConcreteAlgorithm } from './select.ts';

/** Emitted after every operation. */
export interface OpEvent {
  op: 'allreduce' | 'broadcast' | 'allgather' | 'barrier';
  seq: number;
  algorithm?: ConcreteAlgorithm;
  bytes: number;
  ms: number;
  error?: Error;
}

/** The group moved to a new epoch (`ready`: every rank is ready in it and the operations in flight run again). */
export interface EpochEvent {
  epoch: number;
  phase: 'lost' | 'ready';
  /** what started it: this rank's lost data connection, or a peer's announcement */
  reason: string;
  /** operations in flight here */
  pending: number[];
  /** ms since the epoch began (ready) */
  ms?: number;
}

export interface GroupEvents {
  op: [OpEvent];
  epoch: [EpochEvent];
  /** a message of another generation (or malformed) was dropped */
  stale: [{ subject: string; generation?: number }];
}

export interface Group {
  readonly rank: number;
  readonly worldSize: number;
  readonly generation: number;
  /** what carries the data: the library's own client ('raw'), or nats.js connections */
  readonly laneKind: 'raw' | 'nats';
  /** why raw lanes were asked for and not used (each candidate server's failure), if so */
  readonly laneFallback?: string;
  /** restarts of the group's operations after lost data connections so far */
  readonly epoch: number;
  /** Sums (or averages) `data` across ranks, in place. */
  allreduce(data: Float32Array, opts?: AllreduceOptions): Promise<void>;
  /** Copies root's `data` into every other rank's `data` (same length everywhere). */
  broadcast(data: Float32Array, root: number, opts?: OpOptions): Promise<void>;
  /** Every rank's `data` (lengths may differ), indexed by rank. */
  allgather(data: Float32Array, opts?: OpOptions): Promise<Float32Array[]>;
  barrier(opts?: OpOptions): Promise<void>;
  close(): Promise<void>;
  on<E extends keyof GroupEvents>(event: E, listener: (...args: GroupEvents[E]) => void): this;
  off<E extends keyof GroupEvents>(event: E, listener: (...args: GroupEvents[E]) => void): this;
}
