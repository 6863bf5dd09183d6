/**
 * Buffers data messages by (operation seq, key) until the operation asks for them, so that a
 * peer running ahead never loses a message; an operation's leftovers are dropped when it ends,
 * and late messages for an ended operation are dropped on arrival. Keys begin with the epoch
 * (transport.ts `key`): `interrupt` ends every wait of older epochs without ending operations.
 */
import type { SinkSpec } from './stream-sink.ts';
import { applyPayload } from './wire.ts';

export interface Delivery {
  readonly data: Uint8Array;
  /** the sender's element count */
  readonly total: number;
}

/** Marks a message that a lane already streamed into its waiter's sink. */
export const APPLIED: Delivery = Object.freeze({ data: new Uint8Array(0), total: -1 });

interface Waiter {
  readonly from: number;
  readonly sink?: SinkSpec;
  resolve(d: Delivery): void;
  reject(err: unknown): void;
}

const KEEP_ENDED = 4096;

export class Mailbox {
  private readonly boxes = new Map<number, Map<string, Delivery>>();
  private readonly waiters = new Map<number, Map<string, Waiter>>();
  private readonly ended = new Set<number>();
  private highestEnded = -1;
  /** waits on keys of an older epoch are refused with `interrupted` */
  private floor = 0;
  private interrupted: unknown;

  /** Stores or hands over one message; false when it was dropped (its operation has ended). */
  deliver(seq: number, key: string, d: Delivery): boolean {
    if (this.ended.has(seq)) return false;
    const w = this.waiters.get(seq)?.get(key);
    if (w) {
      this.waiters.get(seq)!.delete(key);
      w.resolve(d);
      return true;
    }
    let box = this.boxes.get(seq);
    if (!box) {
      box = new Map();
      this.boxes.set(seq, box);
    }
    box.set(key, d);
    return true;
  }

  /** The message `key` of operation `seq`, now or when it arrives. */
  take(seq: number, key: string, from: number): Promise<Delivery> {
    if (epochOf(key) < this.floor) return Promise.reject(this.interrupted);
    const box = this.boxes.get(seq);
    const d = box?.get(key);
    if (d) {
      box!.delete(key);
      return Promise.resolve(d);
    }
    let ws = this.waiters.get(seq);
    if (!ws) {
      ws = new Map();
      this.waiters.set(seq, ws);
    }
    const waiters = ws;
    return new Promise<Delivery>((resolve, reject) => {
      waiters.set(key, { from, resolve, reject });
    });
  }

  /**
   * Waits for message `key` and applies it to `sink` (add or copy): streamed by the lane while
   * it arrives when the lane can, else from the whole message.
   */
  takeInto(seq: number, key: string, from: number, sink: SinkSpec): Promise<void> {
    if (epochOf(key) < this.floor) return Promise.reject(this.interrupted);
    const box = this.boxes.get(seq);
    const d = box?.get(key);
    if (d) {
      box!.delete(key);
      try {
        applyPayload(sink, d.data);
      } catch (e) {
        return Promise.reject(e);
      }
      return Promise.resolve();
    }
    let ws = this.waiters.get(seq);
    if (!ws) {
      ws = new Map();
      this.waiters.set(seq, ws);
    }
    const waiters = ws;
    return new Promise<void>((resolve, reject) => {
      waiters.set(key, {
        from,
        sink,
        resolve: (got) => {
          if (got === APPLIED) {
            resolve();
            return;
          }
          try {
            applyPayload(sink, got.data);
            resolve();
          } catch (e) {
            reject(e);
          }
        },
        reject,
      });
    });
  }

  /** The sink waiting for `key` (the lane streams the message into it), if any. */
  sinkFor(seq: number, key: string): SinkSpec | undefined {
    return this.waiters.get(seq)?.get(key)?.sink;
  }

  isEnded(seq: number): boolean {
    return this.ended.has(seq);
  }

  /** Ranks that operation `seq` is waiting on right now. */
  waitingOn(seq: number): number[] {
    const out = new Set<number>();
    for (const w of this.waiters.get(seq)?.values() ?? []) out.add(w.from);
    return [...out].sort((a, b) => a - b);
  }

  /** Ends operation `seq`: rejects its waiters with `err` (if any) and forgets its messages. */
  end(seq: number, err?: unknown): void {
    const ws = this.waiters.get(seq);
    this.waiters.delete(seq);
    this.boxes.delete(seq);
    this.ended.add(seq);
    if (seq > this.highestEnded) this.highestEnded = seq;
    if (this.ended.size > KEEP_ENDED) {
      for (const s of this.ended) if (s < this.highestEnded - KEEP_ENDED / 2) this.ended.delete(s);
    }
    if (ws && err !== undefined) for (const w of ws.values()) w.reject(err);
  }

  /**
   * The group moved to `epoch`: every wait (of any operation) is rejected with `err`, messages
   * of older epochs are forgotten, and waits on older epochs are refused from now on; the
   * operations stay open for their next attempt.
   */
  interrupt(epoch: number, err: unknown): void {
    this.floor = Math.max(this.floor, epoch);
    this.interrupted = err;
    const ws = [...this.waiters.values()].flatMap((m) => [...m.values()]);
    this.waiters.clear();
    for (const box of this.boxes.values()) for (const k of [...box.keys()]) if (epochOf(k) < this.floor) box.delete(k);
    for (const w of ws) w.reject(err);
  }

  /** Opens an ended operation again (a finished one that a peer needs again). */
  reopen(seq: number): void {
    this.ended.delete(seq);
  }

  /** Ends everything (group closed or aborted). */
  endAll(err: unknown): void {
    for (const seq of new Set([...this.waiters.keys(), ...this.boxes.keys()])) this.end(seq, err);
  }
}

/** The epoch a key begins with (transport.ts `key`). */
function epochOf(key: string): number {
  return Number(key.slice(0, key.indexOf('.')));
}
