/**
 * Link faults on a rank's data lanes, switchable while the group runs: a pacer that holds the
 * rank's outgoing chunks to a rate (each chunk of n bytes takes n / rate of the link, so the
 * sends of all lanes together stay at the rate: a leaky bucket, no burst allowance) and a
 * dropper that discards a fraction of them before they reach the lane. Only data chunks pass
 * through lanes; the group's control messages (hello, ping) use the main connection and are
 * left alone, so a dropped chunk shows up as an operation that times out naming the ranks it
 * never heard from, not as a silent wrong sum.
 */
import type { Lane, LaneHandler, LaneStreamer } from './lane.ts';

export interface ShaperCounters {
  /** chunks discarded by the dropper (or a cut, either way) */
  dropped: number;
  /** chunks that waited for the pacer */
  paced: number;
}

export class LinkShaper {
  /** bytes per ms, 0 = unlimited */
  private rate = 0;
  private dropFraction = 0;
  /** when the paced link is next free (ms epoch) */
  private nextFree = 0;
  /** a partition: until then nothing goes out or comes in on the lanes (ms epoch) */
  private cutUntil = 0;
  readonly counters: ShaperCounters = { dropped: 0, paced: 0 };
  private readonly lanes = new Set<ShapedLane>();

  /** `random`: [0, 1) draws for the dropper (default Math.random) */
  constructor(private readonly random: () => number = Math.random) {}

  /** Throttles to `kbit` kbit/s (1 kbit = 1000 bits); null lifts it. */
  setRate(kbit: number | null): void {
    this.rate = kbit === null ? 0 : (kbit * 1000) / 8 / 1000;
    if (this.rate === 0) for (const l of this.lanes) l.kick();
  }

  /** Drops this fraction (0..1] of outgoing chunks; null stops dropping. */
  setDrop(fraction: number | null): void {
    this.dropFraction = fraction ?? 0;
  }

  /**
   * Partitions the lanes for `ms`: every chunk sent or received meanwhile is lost (the lanes'
   * connections may be raw TCP, which a cut of the process's nats.js connections does not reach).
   */
  cut(ms: number): void {
    this.cutUntil = Math.max(this.cutUntil, Date.now() + ms);
  }

  /** True while a cut lasts (then every chunk is lost). */
  get isCut(): boolean {
    return Date.now() < this.cutUntil;
  }

  get active(): boolean {
    return this.rate > 0 || this.dropFraction > 0 || this.isCut;
  }

  /** True when this chunk is to be dropped. */
  drop(): boolean {
    if (this.isCut) {
      this.counters.dropped++;
      return true;
    }
    if (this.dropFraction <= 0 || this.random() >= this.dropFraction) return false;
    this.counters.dropped++;
    return true;
  }

  /** ms to wait before sending `bytes`, reserving its share of the link. */
  reserve(bytes: number): number {
    if (this.rate <= 0) return 0;
    const now = Date.now();
    const start = Math.max(now, this.nextFree);
    this.nextFree = start + bytes / this.rate;
    return start - now;
  }

  get paced(): boolean {
    return this.rate > 0;
  }

  /** The lane with this shaper in front of its sends. */
  wrap(lane: Lane): Lane {
    const l = new ShapedLane(lane, this, () => this.lanes.delete(l));
    this.lanes.add(l);
    return l;
  }
}

interface Queued {
  subject: string;
  payload: Uint8Array;
  borrowed: boolean;
}

class ShapedLane implements Lane {
  private readonly queue: Queued[] = [];
  private pumping = false;
  private idle: Array<() => void> = [];
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly inner: Lane,
    private readonly shaper: LinkShaper,
    private readonly onClose: () => void,
  ) {}

  get maxPayload(): number {
    return this.inner.maxPayload;
  }

  publish(subject: string, payload: Uint8Array, borrowed: boolean): void {
    if (this.shaper.drop()) return;
    if (!this.shaper.paced && this.queue.length === 0) {
      this.inner.publish(subject, payload, borrowed);
      return;
    }
    this.queue.push({ subject, payload, borrowed });
    void this.pump();
  }

  /** the pacer was lifted: send what waits now */
  kick(): void {
    clearTimeout(this.timer);
    this.wake?.();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    while (this.queue.length > 0 && !this.closed) {
      const q = this.queue[0];
      const wait = this.shaper.reserve(q.payload.length);
      if (wait > 0) {
        this.shaper.counters.paced++;
        await new Promise<void>((r) => {
          this.wake = r;
          this.timer = setTimeout(r, wait);
        });
        this.wake = undefined;
      }
      if (this.closed) break;
      this.queue.shift();
      this.inner.publish(q.subject, q.payload, q.borrowed);
    }
    this.pumping = false;
    for (const f of this.idle.splice(0)) f();
  }

  private drained(): Promise<void> {
    if (this.queue.length === 0 && !this.pumping) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  async settle(): Promise<void> {
    await this.drained();
    await this.inner.settle();
  }

  subscribe(subject: string, handler: LaneHandler, streamer?: LaneStreamer): void {
    // during a cut nothing arrives: a message is taken whole (not streamed) and discarded
    const s = streamer && ((subj: string, size: number) => (this.shaper.isCut ? undefined : streamer(subj, size)));
    this.inner.subscribe(
      subject,
      (subj, data) => {
        if (!this.shaper.isCut) handler(subj, data);
      },
      s,
    );
  }

  async flush(): Promise<void> {
    await this.drained();
    await this.inner.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.kick();
    this.queue.length = 0;
    for (const f of this.idle.splice(0)) f();
    this.onClose();
    await this.inner.close();
  }
}
