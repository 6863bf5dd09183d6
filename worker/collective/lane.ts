/**
 * A data connection ("lane"). Two kinds: a nats.js connection, or RawLane, a minimal client of
 * the NATS text protocol that only publishes and subscribes, built for bulk payloads (one copy
 * on receive into a buffer of the exact size, none on send for payloads the caller gives up).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamSink } from './stream-sink.ts';

export type LaneHandler = (subject: string, data: Uint8Array) => void;
/** A message of `size` bytes is starting: a sink to stream it into, or undefined to get it whole. */
export type LaneStreamer = (subject: string, size: number) => StreamSink | undefined;

export interface Lane {
  /** the server's max_payload */
  readonly maxPayload: number;
  /**
   * Sends without copying. `borrowed`: the payload views memory that may change as soon as
   * the operation resolves, so settle() must not resolve before the lane is done with it.
   * (Payloads that are not borrowed are only changed after a reply that causally follows
   * their delivery, so the lane never needs to hold on to them.)
   */
  publish(subject: string, payload: Uint8Array, borrowed: boolean): void;
  /** resolves once every borrowed payload published so far has left this process's memory */
  settle(): Promise<void>;
  /** `streamer` is a hint: lanes that cannot stream deliver every message whole */
  subscribe(subject: string, handler: LaneHandler, streamer?: LaneStreamer): void;
  /** resolves once the server has processed everything sent so far */
  flush(): Promise<void>;
  /** unsubscribes; closes the connection if the lane owns it */
  close(): Promise<void>;
}

const noop = (): void => {};

/**
 * A lane over a nats.js connection (owned: closed with the lane). nats.js reconnects on its
 * own, but what was in flight across a disconnect is gone, so `onLost` is told about the first
 * disconnect (the group fails its operation as retryable instead of waiting for a timeout).
 */
export class NatsLane implements Lane {
  private readonly subs: { unsubscribe(): void }[] = [];
  private borrowed = false;
  private closed = false;
  constructor(
    private readonly nc: NatsConnection,
    private readonly owned: boolean,
    onLost?: (err: Error) => void,
  ) {
    if (onLost) void this.watch(onLost);
  }

  private async watch(onLost: (err: Error) => void): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.closed) return;
      if (s.type === 'disconnect' || s.type === 'close') {
        onLost(new Error(s.type === 'disconnect' ? `nats.js lane disconnected from ${s.server}` : 'nats.js lane closed'));
        return;
      }
    }
  }

  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  publish(subject: string, payload: Uint8Array, borrowed: boolean): void {
    this.nc.publish(subject, payload);
    if (borrowed) this.borrowed = true;
  }

  settle(): Promise<void> {
    // nats.js copies payloads into one write buffer when it flushes; flush() does that synchronously
    if (this.borrowed) {
      this.borrowed = false;
      this.nc.flush().catch(noop);
    }
    return Promise.resolve();
  }

  subscribe(subject: string, handler: LaneHandler): void {
    this.subs.push(
      this.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (!err) handler(msg.subject, msg.data);
        },
      }),
    );
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.subs) {
      try {
        s.unsubscribe();
      } catch {
        /* already closed */
      }
    }
    this.subs.length = 0;
    if (this.owned) await this.nc.close().catch(noop);
  }
}
