/**
 * A collective group: one generation of one job, `worldSize` ranks. createGroup subscribes,
 * then runs a join handshake (repeated hellos until every rank has heard every rank), so no
 * data message is published before its receiver listens. Every operation gets a sequence
 * number (ranks call operations in the same order); its messages carry it, so operations may
 * overlap and a peer may run ahead.
 */
import { EventEmitter } from 'node:events';
import { hierarchicalAllreduce } from './allreduce-hierarchical.ts';
import { multicastAllreduce } from './allreduce-multicast.ts';
import { ringAllreduce } from './allreduce-ring.ts';
import type { Hello } from './control.ts';
import { CollectiveAbortedError, CollectiveConnectionError, CollectiveError, CollectiveTimeoutError } from './errors.ts';
import { chunksOf } from './layout.ts';
import type { Lane } from './lane.ts';
import { Mailbox } from './mailbox.ts';
import { openLanes } from './open-lanes.ts';
import { RawLane } from './raw-lane.ts';
import { OpContext, type AllreduceAlgorithm } from './op.ts';
import {
  DEFAULT_CHUNK_BYTES, DEFAULT_TIMEOUT_MS, HELLO_INTERVAL_MS, probeWindowMs,
  type AlgorithmName, type AllreduceOptions, type GroupOptions, type OpOptions,
} from './options.ts';
import { autoAlgorithm, type ConcreteAlgorithm } from './select.ts';
import { topology, type Topology } from './topology.ts';
import { Transport } from './transport.ts';
import { encodeRange, copyInto, wireBytes } from './wire.ts';

/** Emitted after every operation. */
export interface OpEvent {
  op: 'allreduce' | 'broadcast' | 'allgather' | 'barrier';
  seq: number;
  algorithm?: ConcreteAlgorithm;
  bytes: number;
  ms: number;
  error?: Error;
}

export interface GroupEvents {
  op: [OpEvent];
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

const EMPTY = new Uint8Array(0);

function validate(o: GroupOptions): void {
  const bad: string[] = [];
  if (!Number.isInteger(o.worldSize) || o.worldSize < 1) bad.push(`worldSize ${o.worldSize}`);
  if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.worldSize) bad.push(`rank ${o.rank}`);
  if (!Number.isInteger(o.generation) || o.generation < 0) bad.push(`generation ${o.generation}`);
  if (o.nodeOfRank && o.nodeOfRank.length !== o.worldSize) bad.push(`nodeOfRank has ${o.nodeOfRank.length} entries`);
  if (!/^[A-Za-z0-9_.-]+$/.test(o.subjectBase) || o.subjectBase.endsWith('.')) bad.push(`subjectBase '${o.subjectBase}'`);
  if (bad.length) throw new CollectiveError(`invalid group options: ${bad.join('; ')}`);
}

/** Joins the group; resolves once every rank listens (rejects on timeout/abort). */
export async function createGroup(opts: GroupOptions): Promise<Group> {
  validate(opts);
  let lost: ((err: Error) => void) | undefined;
  const why: string[] = [];
  const opened = await openLanes(opts, (err) => lost?.(err), why);
  const wrap = opts.wrapLane;
  const lanes = wrap ? opened.map((l) => wrap(l)) : opened;
  try {
    // the kind of what was opened: a wrapper (wrapLane, e.g. fault shaping) does not change it
    const kind = opened.every((l) => l instanceof RawLane) ? 'raw' : 'nats';
    const g = new CollectiveGroup(opts, lanes, kind, kind === 'nats' && why.length ? why.join('; ') : undefined);
    lost = (err) => g.dataConnectionLost(err);
    await g.join();
    return g;
  } catch (e) {
    await Promise.all(lanes.map((l) => l.close().catch(() => {})));
    throw e;
  }
}

class CollectiveGroup extends EventEmitter<GroupEvents> implements Group {
  readonly rank: number;
  readonly worldSize: number;
  readonly generation: number;
  readonly laneKind: 'raw' | 'nats';
  private readonly opts: GroupOptions;
  private readonly timeoutMs: number;
  private readonly topo: Topology;
  private readonly mailbox = new Mailbox();
  private readonly transport: Transport;
  private readonly active = new Set<(err: Error) => void>();
  private chunkBytes: number;
  private nextSeq = 0;
  /** set by close, an abort or a failed operation: every later operation rejects with it */
  private failure: Error | undefined;
  private readonly onGroupAbort = (): void => this.fail(new CollectiveAbortedError('collective group aborted', { cause: this.opts.signal?.reason }));

  readonly laneFallback?: string;

  constructor(opts: GroupOptions, lanes: Lane[], laneKind: 'raw' | 'nats', laneFallback?: string) {
    super();
    this.opts = opts;
    this.rank = opts.rank;
    this.worldSize = opts.worldSize;
    this.generation = opts.generation;
    this.laneKind = laneKind;
    if (laneFallback) this.laneFallback = laneFallback;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.topo = topology(opts.worldSize, opts.nodeOfRank);
    this.transport = new Transport({
      base: opts.subjectBase,
      generation: opts.generation,
      rank: opts.rank,
      worldSize: opts.worldSize,
      nodeIndex: this.topo.nodeIndexOf[opts.rank],
      control: opts.nc,
      lanes,
      mailbox: this.mailbox,
      events: {
        stale: (info) => this.emit('stale', info),
        hello: (h) => this.hellos?.(h),
      },
    });
    this.chunkBytes = Math.min(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, this.transport.maxPayload());
    if (opts.signal) {
      if (opts.signal.aborted) this.onGroupAbort();
      else opts.signal.addEventListener('abort', this.onGroupAbort, { once: true });
    }
  }

  private hellos: ((h: Hello) => void) | undefined;

  async join(): Promise<void> {
    if (this.failure) throw this.failure;
    await this.transport.start();
    if (this.worldSize === 1) return;
    const peers = new Map<number, Hello>();
    const joinTimeoutMs = this.opts.joinTimeoutMs ?? this.timeoutMs;
    let maxPayload = this.transport.maxPayload();
    let lanes = this.transport.laneCount;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const say = (): void => this.transport.control('hello', {
        generation: this.generation, rank: this.rank, worldSize: this.worldSize,
        ready: peers.size === this.worldSize - 1, maxPayload: this.transport.maxPayload(), lanes: this.transport.laneCount,
      } satisfies Hello);
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearInterval(tick);
        clearTimeout(timer);
        this.active.delete(finish);
        this.hellos = undefined;
        if (err) reject(err);
        else { say(); resolve(); } // a last ready hello for the ranks still waiting on us
      };
      const check = (): void => {
        if (peers.size === this.worldSize - 1 && [...peers.values()].every((h) => h.ready)) finish();
      };
      this.hellos = (h) => {
        if (h.worldSize !== this.worldSize) {
          finish(new CollectiveError(`rank ${h.rank} joined with worldSize ${h.worldSize}, this rank has ${this.worldSize}`));
          return;
        }
        const isNew = !peers.has(h.rank);
        peers.set(h.rank, h);
        maxPayload = Math.min(maxPayload, h.maxPayload);
        lanes = Math.min(lanes, h.lanes);
        if (isNew) say();
        check();
      };
      this.active.add(finish);
      const tick = setInterval(say, HELLO_INTERVAL_MS);
      const timer = setTimeout(() => {
        // ranks never heard from; if every rank was heard, those still waiting on someone
        let missing: number[] = [];
        for (let r = 0; r < this.worldSize; r++) if (r !== this.rank && !peers.has(r)) missing.push(r);
        if (!missing.length) for (const [r, h] of peers) if (!h.ready) missing.push(r);
        finish(new CollectiveTimeoutError('join', missing, joinTimeoutMs));
      }, joinTimeoutMs);
      say();
    });
    this.transport.laneCount = lanes;
    this.chunkBytes = Math.min(this.chunkBytes, maxPayload);
  }

  /** A data connection ended under us: nothing sent on it is sure to arrive (retryable). */
  dataConnectionLost(err: Error): void {
    this.fail(new CollectiveConnectionError(`collective data connection lost: ${err.message}`, { cause: err }));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const f of [...this.active]) f(err);
    this.mailbox.endAll(err);
  }

  private algorithmFor(name: AlgorithmName, bytes: number): AllreduceAlgorithm & { label: ConcreteAlgorithm } {
    const concrete = name === 'auto' ? autoAlgorithm(this.topo, bytes) : name;
    const fn: AllreduceAlgorithm = concrete === 'ring' ? ringAllreduce
      : concrete === 'multicast' ? multicastAllreduce
      : hierarchicalAllreduce(this.topo, multicastAllreduce);
    return Object.assign(fn, { label: concrete });
  }

  /** Runs one operation under its timeout and signals; marks the group failed if it fails. */
  private run<T>(name: OpEvent['op'], o: OpOptions, fp16: boolean, bytes: number, algorithm: ConcreteAlgorithm | undefined,
    body: (op: OpContext) => Promise<T>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.nextSeq++;
    const chunkElems = Math.max(1, Math.floor(this.chunkBytes / wireBytes(fp16)));
    const ctx = new OpContext(seq, this.rank, this.worldSize, fp16, chunkElems, this.transport, this.mailbox);
    const timeoutMs = o.timeoutMs ?? this.timeoutMs;
    const started = performance.now();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let probeTimer: ReturnType<typeof setTimeout> | undefined;
      const finish = (err?: Error, value?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(probeTimer);
        o.signal?.removeEventListener('abort', onAbort);
        this.active.delete(finish);
        this.mailbox.end(seq, err);
        this.emit('op', { op: name, seq, algorithm, bytes, ms: performance.now() - started, ...(err ? { error: err } : {}) });
        if (err) { this.fail(err); reject(err); } else resolve(value as T);
      };
      const onAbort = (): void => finish(new CollectiveAbortedError(`collective ${name} aborted`, { cause: o.signal?.reason }));
      this.active.add(finish);
      if (o.signal?.aborted) { onAbort(); return; }
      o.signal?.addEventListener('abort', onAbort, { once: true });
      // probe liveness just before the deadline, so the error names the ranks that are gone
      const window = probeWindowMs(timeoutMs);
      probeTimer = setTimeout(() => {
        const deadline = started + timeoutMs;
        this.transport.probe(Math.max(0, deadline - performance.now())).then((heard) => {
          if (settled) return;
          let missing: number[] = [];
          for (let r = 0; r < this.worldSize; r++) if (!heard.has(r)) missing.push(r);
          if (!missing.length) missing = this.mailbox.waitingOn(seq);
          finish(new CollectiveTimeoutError(name, missing, timeoutMs));
        }, (e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
      }, Math.max(0, timeoutMs - window));
      body(ctx)
        .then(async (v) => { await this.transport.settle(); return v; })
        .then((v) => finish(undefined, v), (e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    });
  }

  allreduce(data: Float32Array, o: AllreduceOptions = {}): Promise<void> {
    const algo = this.algorithmFor(o.algorithm ?? this.opts.algorithm ?? 'auto', data.byteLength);
    const fp16 = o.fp16 ?? this.opts.fp16 ?? false;
    return this.run('allreduce', o, fp16, data.byteLength, algo.label, async (ctx) => {
      if (this.worldSize === 1) return;
      const all = Array.from({ length: this.worldSize }, (_, r) => r);
      await algo(ctx, data, { members: all, index: this.rank, tag: '' });
      if (o.op !== 'mean') return;
      await ctx.settle(); // our reduced shard may still be on its way out of `data`
      if (o.op === 'mean') for (let i = 0; i < data.length; i++) data[i] /= this.worldSize;
    });
  }

  broadcast(data: Float32Array, root: number, o: OpOptions = {}): Promise<void> {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) return Promise.reject(new CollectiveError(`broadcast root ${root} is not a rank`));
    return this.run('broadcast', o, false, data.byteLength, undefined, async (ctx) => {
      if (this.worldSize === 1) return;
      const chunks = chunksOf(data.length, ctx.chunkElems);
      if (this.rank === root) {
        chunks.forEach((r, j) => ctx.sendAll('bc', j, encodeRange(data, r, false), true, data.length));
        return;
      }
      await Promise.all(chunks.map(async (r, j) => {
        if (j > 0) { await ctx.recvInto('bc', root, j, data, r, 'copy'); return; }
        const d = await ctx.recvDelivery('bc', root, 0); // carries the root's length
        if (d.total !== data.length) throw new CollectiveError(`broadcast of ${d.total} elements from rank ${root} into ${data.length}`);
        copyInto(data, r, d.data, false);
      }));
    });
  }

  allgather(data: Float32Array, o: OpOptions = {}): Promise<Float32Array[]> {
    return this.run('allgather', o, false, data.byteLength, undefined, async (ctx) => {
      const out: Float32Array[] = new Array(this.worldSize);
      out[this.rank] = data.slice();
      chunksOf(data.length, ctx.chunkElems).forEach((r, j) => ctx.sendAll('ga', j, encodeRange(data, r, false), true, data.length));
      const peers: Promise<void>[] = [];
      for (let p = 0; p < this.worldSize; p++) {
        if (p === this.rank) continue;
        peers.push((async () => {
          const first = await ctx.recvDelivery('ga', p, 0);
          const buf = new Float32Array(first.total);
          const chunks = chunksOf(first.total, ctx.chunkElems);
          copyInto(buf, chunks[0], first.data, false);
          await Promise.all(chunks.slice(1).map(async (r, i) => copyInto(buf, r, await ctx.recv('ga', p, i + 1), false)));
          out[p] = buf;
        })());
      }
      await Promise.all(peers);
      return out;
    });
  }

  barrier(o: OpOptions = {}): Promise<void> {
    return this.run('barrier', o, false, 0, undefined, async (ctx) => {
      if (this.worldSize === 1) return;
      ctx.sendAll('br', 0, EMPTY, false);
      const waits: Promise<Uint8Array>[] = [];
      for (let p = 0; p < this.worldSize; p++) if (p !== this.rank) waits.push(ctx.recv('br', p, 0));
      await Promise.all(waits);
    });
  }

  async close(): Promise<void> {
    this.opts.signal?.removeEventListener('abort', this.onGroupAbort);
    this.fail(new CollectiveAbortedError('collective group closed'));
    await this.transport.close();
  }
}
