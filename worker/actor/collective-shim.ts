/**
 * TEMPORARY stand-in for worker/collective's createGroup, removed once that lands: every rank
 * publishes its whole vector and sums all of them in rank order (so all ranks get the same
 * bits). Only for small tensors (the logreg trainer); no chunking, no fp16.
 */
import type { Subscription } from '@nats-io/transport-node';
import { FlotillaError } from '../../shared/errors.ts';
import type { CollectiveGroup, GroupOptions } from './group.ts';

interface Hello { rank: number; complete: boolean }

export function createShimGroup(o: GroupOptions): CollectiveGroup {
  return new ShimGroup(o);
}

class ShimGroup implements CollectiveGroup {
  readonly rank: number;
  readonly worldSize: number;
  private seq = 0;
  private readonly inbox = new Map<number, Map<number, Float32Array>>();
  private waiter: (() => void) | undefined;
  private readonly sub: Subscription;
  private readonly heard = new Set<number>();
  private readonly complete = new Set<number>();
  private joined: Promise<void> | undefined;

  constructor(private readonly o: GroupOptions) {
    this.rank = o.rank;
    this.worldSize = o.worldSize;
    this.sub = o.nc.subscribe(`${o.subjectBase}.shim.>`, {
      callback: (err, m) => {
        if (err) return;
        const parts = m.subject.split('.');
        const kind = parts[parts.length - 3];
        if (kind === 'hello') {
          const h = JSON.parse(new TextDecoder().decode(m.data)) as Hello;
          this.heard.add(h.rank);
          if (h.complete) this.complete.add(h.rank);
        } else if (kind === 'data') {
          const seq = Number(parts[parts.length - 2]);
          const from = Number(parts[parts.length - 1]);
          const copy = new Float32Array(m.data.slice().buffer);
          if (!this.inbox.has(seq)) this.inbox.set(seq, new Map());
          this.inbox.get(seq)!.set(from, copy);
        }
        this.waiter?.();
      },
    });
  }

  private async until(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + this.o.timeoutMs;
    while (!cond()) {
      if (this.o.signal.aborted) throw new FlotillaError('FLO_CANCELLED', `${what} aborted`);
      if (Date.now() > deadline) throw new FlotillaError('FLO_TIMEOUT', `${what} timed out after ${this.o.timeoutMs} ms`);
      await new Promise<void>((r) => { this.waiter = r; setTimeout(r, 100); });
    }
  }

  /** Everyone subscribed before the first data message (hellos repeat until all say complete). */
  private join(): Promise<void> {
    this.joined ??= (async () => {
      const all = () => this.heard.size >= this.worldSize;
      let done = false;
      const say = () => {
        const body: Hello = { rank: this.rank, complete: all() };
        this.o.nc.publish(`${this.o.subjectBase}.shim.hello.0.${this.rank}`, JSON.stringify(body));
      };
      const t = setInterval(() => { if (!done) say(); }, 100);
      try {
        say();
        await this.until(() => all() && this.complete.size >= this.worldSize, 'group join');
        say();
      } finally { done = true; clearInterval(t); }
    })();
    return this.joined;
  }

  async allreduce(data: Float32Array, opts: { op?: 'sum' | 'mean' } = {}): Promise<Float32Array> {
    await this.join();
    const seq = this.seq++;
    this.o.nc.publish(`${this.o.subjectBase}.shim.data.${seq}.${this.rank}`, new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    await this.until(() => (this.inbox.get(seq)?.size ?? 0) >= this.worldSize, `allreduce #${seq}`);
    const parts = this.inbox.get(seq)!;
    this.inbox.delete(seq);
    data.fill(0);
    for (let r = 0; r < this.worldSize; r++) {
      const p = parts.get(r)!;
      for (let i = 0; i < data.length; i++) data[i] += p[i];
    }
    if (opts.op === 'mean') for (let i = 0; i < data.length; i++) data[i] /= this.worldSize;
    return data;
  }

  async barrier(): Promise<void> { await this.allreduce(new Float32Array(1)); }

  close(): void { this.sub.unsubscribe(); }
}
