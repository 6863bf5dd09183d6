/**
 * The head's own view of the cluster: is it the one cut off? Before the head declares nodes
 * dead it asks here, because a head that lost NATS (its server died, its host is partitioned,
 * its server is in a minority without JetStream) hears no heartbeats from anyone, and
 * restarting every gang on that evidence would undo work that went on normally elsewhere.
 *
 * Three signals: the NATS connection (nats.js status events; the head pings its server every
 * second, so a dead link shows within ~3 s), the head lease (a renewal acknowledged by
 * JetStream within `leaseMs` means JetStream and its quorum answer), and whether any node is
 * heard at all. `goodSince` is when the view last became whole: silence before it is not
 * evidence, so after a partition heals every node and actor gets a fresh grace period.
 */
import type { NatsConnection } from '@nats-io/transport-node';

export interface ViewOptions {
  /** local clock (ms) of the last lease renewal JetStream acknowledged */
  leaseRenewedAt: () => number;
  /** the lease period: a renewal older than this means JetStream is not answering */
  leaseMs: number;
  now?: () => number;
}

/** What the controller asks of a view (NatsView; tests may pass their own). */
export interface HeadView {
  problem(leaseFactor?: number): string | null;
  goodSince(): number;
  reachable(timeoutMs?: number): Promise<boolean>;
}

export class NatsView implements HeadView {
  readonly #nc: NatsConnection;
  readonly #o: ViewOptions;
  readonly #now: () => number;
  #connected = true;
  #downSince = 0;
  #goodSince: number;
  #lastGood: number;
  #wasOk = true;
  #stopped = false;

  constructor(nc: NatsConnection, o: ViewOptions) {
    this.#nc = nc;
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#goodSince = this.#now();
    this.#lastGood = this.#goodSince;
    void this.#watch();
  }

  async #watch(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (this.#stopped) break;
      if (s.type === 'disconnect' || s.type === 'staleConnection') {
        if (this.#connected) {
          this.#connected = false;
          this.#downSince = this.#now();
        }
      } else if (s.type === 'reconnect') {
        this.#connected = true;
      }
    }
  }

  stop(): void {
    this.#stopped = true;
  }

  /**
   * Why this head cannot trust its view right now, or null when it can. `leaseFactor` scales
   * the lease criterion (REST writes use 2, so a busy event loop does not turn them into 503s).
   */
  problem(leaseFactor = 1): string | null {
    const now = this.#now();
    let why: string | null = null;
    if (this.#nc.isClosed()) why = 'the NATS connection is closed';
    else if (!this.#connected) why = `not connected to NATS for ${now - this.#downSince} ms (reconnecting)`;
    else {
      const age = now - this.#o.leaseRenewedAt();
      if (age > this.#o.leaseMs * leaseFactor) why = `JetStream has not acknowledged the head lease for ${age} ms`;
    }
    if (leaseFactor !== 1) return why;
    if (why === null) {
      if (!this.#wasOk) this.#goodSince = now;
      this.#lastGood = now;
    }
    this.#wasOk = why === null;
    return why;
  }

  /** Start (ms) of the current unbroken stretch of a whole view; silence before it proves nothing. */
  goodSince(): number {
    this.problem();
    return this.#goodSince;
  }

  /** How old what this head knows may be: 0 while its view is whole, else ms since it last was. */
  staleMs(): number {
    return this.problem() === null ? 0 : this.#now() - this.#lastGood;
  }

  /** Round trip to the server within `timeoutMs`: the head can still talk to NATS. */
  async reachable(timeoutMs = 1000): Promise<boolean> {
    if (this.#nc.isClosed()) return false;
    return Promise.race([
      this.#nc.flush().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs)),
    ]);
  }
}

/** A problem's text without its figures ("not connected to NATS for N ms"): what stays the same while the state does. */
export function problemKind(why: string): string {
  return why.replace(/\d+/g, 'N');
}
