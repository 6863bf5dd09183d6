/**
 * What an algorithm sees of one collective operation: its sequence number (every rank numbers
 * its operations the same way), send to a rank / to all / to a node, and receive by key.
 */
import type { Range } from './layout.ts';
import type { Delivery, Mailbox } from './mailbox.ts';
import { key, type Transport } from './transport.ts';

export class OpContext {
  constructor(
    readonly seq: number,
    /** the group's epoch this attempt of the operation runs in (its messages carry it) */
    readonly epoch: number,
    readonly rank: number,
    readonly worldSize: number,
    /** float16 on the wire */
    readonly fp16: boolean,
    /** elements per chunk at this precision (below max_payload) */
    readonly chunkElems: number,
    private readonly transport: Transport,
    private readonly mailbox: Mailbox,
  ) {}

  /**
   * `borrowed`: the payload views the caller's memory and nothing that this rank receives
   * later in the operation depends on its delivery (see Lane.publish); the operation waits
   * for the lanes to release such payloads before it resolves.
   */
  send(to: number, tag: string, chunk: number, payload: Uint8Array, borrowed: boolean, total = 0): void {
    this.transport.send('p', String(to), this.epoch, this.seq, tag, chunk, total, payload, borrowed);
  }

  sendAll(tag: string, chunk: number, payload: Uint8Array, borrowed: boolean, total = 0): void {
    this.transport.send('m', 'all', this.epoch, this.seq, tag, chunk, total, payload, borrowed);
  }

  sendNode(nodeIndex: number, tag: string, chunk: number, payload: Uint8Array, borrowed: boolean, total = 0): void {
    this.transport.send('n', String(nodeIndex), this.epoch, this.seq, tag, chunk, total, payload, borrowed);
  }

  /** Waits until the lanes no longer hold borrowed payloads (before changing the caller's memory). */
  settle(): Promise<void> {
    return this.transport.settle();
  }

  recv(tag: string, from: number, chunk: number): Promise<Uint8Array> {
    return this.mailbox.take(this.seq, key(this.epoch, tag, from, chunk), from).then((d) => d.data);
  }

  /**
   * Receives into data[r], adding or copying (at this operation's precision); streamed into
   * place as it arrives when the wait is registered before the message comes.
   */
  recvInto(tag: string, from: number, chunk: number, data: Float32Array, r: Range, mode: 'add' | 'copy'): Promise<void> {
    return this.mailbox.takeInto(this.seq, key(this.epoch, tag, from, chunk), from, {
      dst: data.subarray(r.start, r.end),
      mode,
      fp16: this.fp16,
    });
  }

  recvDelivery(tag: string, from: number, chunk: number): Promise<Delivery> {
    return this.mailbox.take(this.seq, key(this.epoch, tag, from, chunk), from);
  }
}

/** A set of ranks taking part in one algorithm (all ranks, or one leader per node). */
export interface Comm {
  /** global ranks, in order */
  readonly members: readonly number[];
  /** my position in members */
  readonly index: number;
  /** prefix of message tags, unique per phase of an operation */
  readonly tag: string;
}

export type AllreduceAlgorithm = (op: OpContext, data: Float32Array, comm: Comm) => Promise<void>;
