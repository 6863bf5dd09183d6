/**
 * A rank's connections ("lanes") and subscriptions. Data chunks are striped over lanes by chunk
 * index (lane = chunk % lanes, the same on both ends); every lane subscribes to what is sent
 * to this rank, to every rank, and to this rank's node. Control traffic uses the main
 * connection. Incoming data goes into the Mailbox under its epoch; a message of an older epoch
 * than the group's is dropped. After a lost connection the group puts new lanes in
 * (`replaceLanes`). Nothing here waits.
 */
import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { EpochReady, Hello, Ping, Pong } from './control.ts';
import type { Lane } from './lane.ts';
import { APPLIED, type Mailbox } from './mailbox.ts';
import { streamSink, type StreamSink } from './stream-sink.ts';
import { controlFilter, controlSubject, dataFilter, dataSubject, parseDataSubject, type Route } from './wire.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const noop = (): void => {};

export interface TransportEvents {
  /** a message of another generation (or malformed) was dropped */
  stale(info: { subject: string; generation?: number }): void;
  hello(h: Hello): void;
  epoch(e: EpochReady): void;
}

export interface TransportOptions {
  base: string;
  generation: number;
  rank: number;
  worldSize: number;
  nodeIndex: number;
  control: NatsConnection;
  /** data connections; closed with the transport */
  lanes: Lane[];
  mailbox: Mailbox;
  events: TransportEvents;
}

export class Transport {
  readonly base: string;
  private readonly o: TransportOptions;
  private readonly subs: Subscription[] = [];
  private readonly probes = new Map<string, Set<number>>();
  /** lanes in use by every rank (the group's minimum, set after the handshake) */
  laneCount: number;
  /** the group's epoch: messages of older ones are dropped, sinks of older ones stop writing */
  epoch = 0;
  private lanes: Lane[];

  constructor(o: TransportOptions) {
    this.o = o;
    this.base = o.base;
    this.lanes = o.lanes;
    this.laneCount = o.lanes.length;
  }

  /** How many data lanes this rank has now. */
  get lanesOpen(): number {
    return this.lanes.length;
  }

  /** The smallest max_payload among this rank's lanes. */
  maxPayload(): number {
    let m = Number.POSITIVE_INFINITY;
    for (const lane of this.lanes) m = Math.min(m, lane.maxPayload);
    return m;
  }

  private subscribeLanes(lanes: Lane[]): void {
    const { base, rank, nodeIndex } = this.o;
    lanes.forEach((l, lane) => {
      for (const [route, dest] of [
        ['p', String(rank)],
        ['m', 'all'],
        ['n', String(nodeIndex)],
      ] as const) {
        l.subscribe(
          dataFilter(base, route, dest, lane),
          (subject, data) => this.onData(subject, data),
          (subject, size) => this.streamer(subject, size),
        );
      }
    });
  }

  /**
   * Puts `lanes` in place of the current ones (closed in the background) and resolves once the
   * server has their subscriptions; rejects (closing them) when a flush fails.
   */
  async replaceLanes(lanes: Lane[]): Promise<void> {
    const old = this.lanes;
    this.lanes = lanes;
    for (const l of old) l.close().catch(noop);
    this.subscribeLanes(lanes);
    await Promise.all(lanes.map((l) => l.flush()));
  }

  /** Subscribes everything and waits until the server has every subscription. */
  async start(): Promise<void> {
    this.subscribeLanes(this.lanes);
    this.subs.push(
      this.o.control.subscribe(controlFilter(this.base), {
        callback: (err, msg) => {
          if (!err) this.onControl(msg);
        },
      }),
    );
    await Promise.all([this.o.control.flush(), ...this.lanes.map((l) => l.flush())]);
  }

  private onData(subject: string, data: Uint8Array): void {
    const h = parseDataSubject(this.base, subject);
    if (!h || h.generation !== this.o.generation || h.from >= this.o.worldSize) {
      this.o.events.stale({ subject, generation: h?.generation });
      return;
    }
    if (h.from === this.o.rank) return; // our own multicast, echoed back
    if (h.epoch < this.epoch) return; // an attempt the group has given up: never applied
    this.o.mailbox.deliver(h.seq, key(h.epoch, h.tag, h.from, h.chunk), { data, total: h.total });
  }

  /** A sink for a message that an operation already waits for with a destination of its size. */
  private streamer(subject: string, size: number): StreamSink | undefined {
    const h = parseDataSubject(this.base, subject);
    if (!h || h.generation !== this.o.generation || h.from >= this.o.worldSize || h.from === this.o.rank || h.epoch !== this.epoch)
      return undefined;
    const k = key(h.epoch, h.tag, h.from, h.chunk);
    const mb = this.o.mailbox;
    const spec = mb.sinkFor(h.seq, k);
    if (!spec || spec.dst.length * (spec.fp16 ? 2 : 4) !== size) return undefined; // a mismatch fails in the whole-message path
    // a sink stops writing the moment its operation ends or the group moves to a newer epoch
    return streamSink(
      spec,
      () => mb.deliver(h.seq, k, APPLIED),
      () => !mb.isEnded(h.seq) && this.epoch === h.epoch,
    );
  }

  private onControl(msg: Msg): void {
    const kind = msg.subject.slice(this.base.length + 3);
    let body: unknown;
    try {
      body = JSON.parse(dec.decode(msg.data));
    } catch {
      return;
    }
    if (kind === 'hello') {
      const h = Hello.safeParse(body);
      if (!h.success) return;
      if (h.data.generation !== this.o.generation) {
        this.o.events.stale({ subject: msg.subject, generation: h.data.generation });
        return;
      }
      if (h.data.rank !== this.o.rank) this.o.events.hello(h.data);
    } else if (kind === 'epoch') {
      const e = EpochReady.safeParse(body);
      if (!e.success || e.data.generation !== this.o.generation || e.data.rank === this.o.rank || e.data.rank >= this.o.worldSize) return;
      this.o.events.epoch(e.data);
    } else if (kind === 'ping') {
      const p = Ping.safeParse(body);
      if (!p.success || p.data.generation !== this.o.generation || p.data.from === this.o.rank) return;
      this.control('pong', { generation: this.o.generation, from: this.o.rank, to: p.data.from, nonce: p.data.nonce } satisfies Pong);
    } else if (kind === 'pong') {
      const p = Pong.safeParse(body);
      if (!p.success || p.data.to !== this.o.rank) return;
      this.probes.get(p.data.nonce)?.add(p.data.from);
    }
  }

  control(kind: string, body: unknown): void {
    try {
      this.o.control.publish(controlSubject(this.base, kind), enc.encode(JSON.stringify(body)));
    } catch {
      /* closed: the op's timeout reports it */
    }
  }

  /** Publishes one data chunk; `borrowed`: see Lane.publish. */
  send(
    route: Route,
    dest: string,
    epoch: number,
    seq: number,
    tag: string,
    chunk: number,
    total: number,
    payload: Uint8Array,
    borrowed: boolean,
  ): void {
    if (epoch !== this.epoch) return; // an attempt the group gave up: its peers would drop it
    const lane = chunk % this.laneCount;
    this.lanes[lane].publish(
      dataSubject(this.base, { route, dest, lane, generation: this.o.generation, epoch, seq, tag, from: this.o.rank, chunk, total }),
      payload,
      borrowed,
    );
  }

  /** Resolves once the lanes are done with every borrowed payload. */
  settle(): Promise<void> {
    return Promise.all(this.lanes.map((l) => l.settle())).then(() => undefined);
  }

  /** Asks every rank to answer within `windowMs`; resolves with the ranks that answered (self included). */
  async probe(windowMs: number): Promise<Set<number>> {
    const nonce = randomBytes(6).toString('hex');
    const heard = new Set<number>([this.o.rank]);
    this.probes.set(nonce, heard);
    this.control('ping', { generation: this.o.generation, from: this.o.rank, nonce } satisfies Ping);
    const deadline = Date.now() + windowMs;
    while (heard.size < this.o.worldSize && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.probes.delete(nonce);
    return heard;
  }

  async close(): Promise<void> {
    for (const s of this.subs) {
      try {
        s.unsubscribe();
      } catch {
        /* connection already closed */
      }
    }
    this.subs.length = 0;
    await Promise.all(this.lanes.map((l) => l.close().catch(noop)));
  }
}

/** A message's mailbox key: its epoch first (Mailbox.interrupt drops older epochs by it). */
export const key = (epoch: number, tag: string, from: number, chunk: number): string => `${epoch}.${tag}.${from}.${chunk}`;
