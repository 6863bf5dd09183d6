/**
 * A collective group: one generation of one job, `worldSize` ranks. createGroup subscribes,
 * then runs a join handshake (repeated hellos until every rank has heard every rank), so no
 * data message is published before its receiver listens. Every operation gets a sequence
 * number (ranks call operations in the same order); its messages carry it, so operations may
 * overlap and a peer may run ahead.
 *
 * A lost data connection (the server killed or restarted, a failover to another server) does
 * not end the group: the rank reopens its lanes and moves the group to a new *epoch*
 * (announced on the main connection, which nats.js reconnects); every rank that hears of it
 * stops the attempts it has in flight, puts the callers' buffers back as they were when each
 * operation began, says it is ready in that epoch (lanes subscribed, the operations it still
 * has in flight), and once every rank is ready the operations in flight run again in the new
 * epoch. A rank that already finished an operation another rank still has in flight runs it
 * again from its saved input (the result, identical by construction, is discarded). Messages
 * carry their epoch and a message of an older one is never applied, so a sum cannot mix two
 * attempts. See README.md "Lost connections".
 * Over 300 lines: every operation shares the one class's epoch state (gate, lanes, replay cache, operations in flight).
 */
import { EventEmitter } from 'node:events';
import { hierarchicalAllreduce } from './allreduce-hierarchical.ts';
import { multicastAllreduce } from './allreduce-multicast.ts';
import { ringAllreduce } from './allreduce-ring.ts';
import type { EpochReady, Hello } from './control.ts';
import { CollectiveAbortedError, CollectiveConnectionError, CollectiveError, CollectiveTimeoutError } from './errors.ts';
import { chunksOf } from './layout.ts';
import type { Lane } from './lane.ts';
import { Mailbox } from './mailbox.ts';
import { openLanes, openNatsLanes, openRawLanes } from './open-lanes.ts';
import { RawLane } from './raw-lane.ts';
import { OpContext, type AllreduceAlgorithm } from './op.ts';
import {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_TIMEOUT_MS,
  EPOCH_INTERVAL_MS,
  HELLO_INTERVAL_MS,
  KEEP_DONE_OPS,
  probeWindowMs,
  type AlgorithmName,
  type AllreduceOptions,
  type GroupOptions,
  type OpOptions,
} from './options.ts';
import { autoAlgorithm, type ConcreteAlgorithm } from './select.ts';
import { topology, type Topology } from './topology.ts';
import { Transport } from './transport.ts';
import { encodeRange, copyInto, wireBytes } from './wire.ts';

import type { Group, GroupEvents, OpEvent } from './group-types.ts';

export type { EpochEvent, Group, GroupEvents, OpEvent } from './group-types.ts';

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
    if (opened[0] instanceof RawLane) g.rawServer = opened[0].server;
    lost = (err) => g.laneLost(0, err);
    await g.join();
    return g;
  } catch (e) {
    await Promise.all(lanes.map((l) => l.close().catch(() => {})));
    throw e;
  }
}

/** An operation in flight, or finished and kept for a peer that may still need it (replay). */
interface OpEntry {
  readonly seq: number;
  readonly fp16: boolean;
  readonly chunkElems: number;
  /** one attempt; `replay`: on the operation's saved input, for peers (its result is discarded) */
  readonly attempt: (ctx: OpContext, replay: boolean) => Promise<unknown>;
  /** puts the caller's buffers back as they were when the operation began */
  readonly reset: () => void;
  /** (re)starts an attempt in the group's current epoch */
  begin(): void;
  /** stops the attempt's timeout (its epoch ended) */
  pause(): void;
  /** the epoch of the last attempt begun */
  epoch?: number;
  /** the attempt running now; settles, never rejects */
  running?: Promise<void>;
}

/** Why an attempt's waits were ended: the group moved to a newer epoch (never reaches a caller). */
class EpochChanged extends Error {
  constructor(readonly epoch: number) {
    super(`collective moved to epoch ${epoch}`);
  }
}

const noop = (): void => {};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

class CollectiveGroup extends EventEmitter<GroupEvents> implements Group {
  readonly rank: number;
  readonly worldSize: number;
  readonly generation: number;
  readonly laneKind: 'raw' | 'nats';
  /** the server ("host:port") this rank's raw lanes are on now */
  rawServer: string | undefined;
  private readonly opts: GroupOptions;
  private readonly timeoutMs: number;
  /** how long a lost data connection may take to come back (0: the group fails at once) */
  private readonly reconnectMs: number;
  private readonly topo: Topology;
  private readonly mailbox = new Mailbox();
  private readonly transport: Transport;
  private readonly active = new Set<(err: Error) => void>();
  private chunkBytes: number;
  private nextSeq = 0;
  /** set by close, an abort or a failed operation: every later operation rejects with it */
  private failure: Error | undefined;
  private readonly onGroupAbort = (): void =>
    this.fail(new CollectiveAbortedError('collective group aborted', { cause: this.opts.signal?.reason }));
  // ---- epochs (restarts after a lost data connection) ----
  private joined = false;
  private curEpoch = 0;
  /** data may flow in curEpoch: every rank said it is ready in it */
  private gateOpen = true;
  /** this rank's lanes are gone and not reopened yet */
  private lanesDown = false;
  /** which opening of the lanes is current (a loss reported by older ones is old news) */
  private laneSet = 0;
  private settling = false;
  private epochBegan = 0;
  private epochReason = '';
  /** peers ready in curEpoch */
  private readonly ready = new Map<number, EpochReady>();
  private wakeAnnounce: (() => void) | undefined;
  private readonly ops = new Map<number, OpEntry>();
  /** finished operations with their saved input, newest last (KEEP_DONE_OPS) */
  private readonly done: OpEntry[] = [];
  private readonly replayed = new Set<string>();

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
    this.reconnectMs = opts.worldSize > 1 ? (opts.reconnectMs ?? this.timeoutMs) : 0;
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
        epoch: (e) => this.onEpoch(e),
      },
    });
    this.chunkBytes = Math.min(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, this.transport.maxPayload());
    if (opts.signal) {
      if (opts.signal.aborted) this.onGroupAbort();
      else opts.signal.addEventListener('abort', this.onGroupAbort, { once: true });
    }
  }

  get epoch(): number {
    return this.curEpoch;
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
      const say = (): void =>
        this.transport.control('hello', {
          generation: this.generation,
          rank: this.rank,
          worldSize: this.worldSize,
          ready: peers.size === this.worldSize - 1,
          maxPayload: this.transport.maxPayload(),
          lanes: this.transport.laneCount,
        } satisfies Hello);
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearInterval(tick);
        clearTimeout(timer);
        this.active.delete(finish);
        this.hellos = undefined;
        if (err) reject(err);
        else {
          say();
          resolve();
        } // a last ready hello for the ranks still waiting on us
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
        const missing: number[] = [];
        for (let r = 0; r < this.worldSize; r++) if (r !== this.rank && !peers.has(r)) missing.push(r);
        if (!missing.length) for (const [r, h] of peers) if (!h.ready) missing.push(r);
        finish(new CollectiveTimeoutError('join', missing, joinTimeoutMs));
      }, joinTimeoutMs);
      say();
    });
    this.transport.laneCount = lanes;
    this.chunkBytes = Math.min(this.chunkBytes, maxPayload);
    this.joined = true;
  }

  /**
   * A data connection of lane opening `set` ended under us: nothing sent on it is sure to
   * arrive. Before the group has joined, or with reconnects off, or without a main connection
   * to agree on a new epoch, the group fails (CollectiveConnectionError, retryable); else the
   * lanes are reopened and the group moves to a new epoch.
   */
  laneLost(set: number, err: Error): void {
    if (set !== this.laneSet || this.failure || this.lanesDown) return;
    if (!this.joined || this.reconnectMs <= 0 || this.opts.nc.isClosed()) {
      this.fail(new CollectiveConnectionError(`collective data connection lost: ${err.message}`, { cause: err }));
      return;
    }
    this.lanesDown = true;
    this.toEpoch(this.curEpoch + 1, `data connection lost: ${err.message}`);
  }

  /** Moves to `epoch` (newer than the current one): attempts in flight stop, the handshake starts. */
  private toEpoch(epoch: number, reason: string): void {
    if (this.failure || epoch <= this.curEpoch) return;
    this.curEpoch = epoch;
    this.transport.epoch = epoch;
    this.gateOpen = false;
    this.ready.clear();
    this.epochBegan = performance.now();
    this.epochReason = reason;
    for (const e of this.ops.values()) e.pause();
    this.mailbox.interrupt(epoch, new EpochChanged(epoch));
    this.emit('epoch', { epoch, phase: 'lost', reason, pending: [...this.ops.keys()] });
    this.wakeAnnounce?.();
    if (this.settling) return; // the running handshake sees the newer epoch
    this.settling = true;
    void this.settleEpoch();
  }

  /** Reopens the lanes if they are down, waits for the stopped attempts, and runs the handshake until every rank is ready. */
  private async settleEpoch(): Promise<void> {
    const deadline = performance.now() + this.reconnectMs;
    try {
      for (;;) {
        if (this.failure) break;
        const epoch = this.curEpoch;
        if (this.lanesDown) await this.reopenLanes(deadline);
        await Promise.all([...this.ops.values()].map((e) => e.running));
        if (epoch !== this.curEpoch || this.lanesDown) continue;
        if (!(await this.announce(epoch, deadline))) continue;
        if (epoch !== this.curEpoch || this.lanesDown || this.failure) continue;
        this.settling = false;
        this.openGate();
        return;
      }
    } catch (e) {
      this.fail(asError(e));
    }
    this.settling = false;
  }

  private async reopenLanes(deadline: number): Promise<void> {
    let wait = 100;
    let why = '';
    for (;;) {
      if (this.failure) throw this.failure;
      this.mainOpen();
      const set = ++this.laneSet;
      const reasons: string[] = [];
      let lanes: Lane[] | undefined;
      try {
        // lanes of the kind the group had: raw ones that cannot connect now are tried again, not swapped for nats.js
        const onLost = (err: Error): void => this.laneLost(set, err);
        // the server the lost lanes were on is tried last: cut off, a dial to it would only time out
        const opened =
          this.laneKind === 'raw' ? await openRawLanes(this.opts, onLost, reasons, this.rawServer) : await openNatsLanes(this.opts, onLost);
        if (opened?.[0] instanceof RawLane) this.rawServer = opened[0].server;
        if (!opened) throw new Error(reasons.join('; ') || 'no raw lane opened');
        const wrap = this.opts.wrapLane;
        lanes = wrap ? opened.map((l) => wrap(l)) : opened;
        if (lanes.length < this.transport.laneCount) {
          for (const l of lanes) l.close().catch(noop);
          throw new Error(`${lanes.length} lane(s) reopened where the group uses ${this.transport.laneCount}`);
        }
        this.lanesDown = false;
        await this.transport.replaceLanes(lanes);
        if (!this.lanesDown) return;
      } catch (e) {
        if (e instanceof CollectiveConnectionError) throw e;
        why = [...new Set([...reasons, (e as Error).message])].join('; ');
        this.lanesDown = true;
      }
      if (performance.now() + wait > deadline) {
        throw new CollectiveConnectionError(
          `collective data connection lost and not back within ${this.reconnectMs} ms${why ? `: ${why}` : ''}`,
        );
      }
      await sleep(wait);
      wait = Math.min(1000, wait * 2);
    }
  }

  /** Without the main connection (closed for good) the ranks cannot agree on an epoch. */
  private mainOpen(): void {
    if (this.opts.nc.isClosed())
      throw new CollectiveConnectionError('collective data connection lost, and the main NATS connection is closed');
  }

  private readyMessage(): EpochReady {
    return {
      generation: this.generation,
      rank: this.rank,
      epoch: this.curEpoch,
      heardAll: this.ready.size === this.worldSize - 1,
      pending: [...this.ops.keys()],
    };
  }

  /**
   * Repeats this rank's readiness in `epoch` until every peer said it is ready in it: true;
   * false when the group moved on meanwhile; a CollectiveTimeoutError (the ranks not heard) at the deadline.
   */
  private async announce(epoch: number, deadline: number): Promise<boolean> {
    while (epoch === this.curEpoch && !this.failure && !this.lanesDown) {
      this.mainOpen();
      this.transport.control('epoch', this.readyMessage());
      if (this.ready.size === this.worldSize - 1) return true;
      const left = deadline - performance.now();
      if (left <= 0) {
        const missing: number[] = [];
        for (let r = 0; r < this.worldSize; r++) if (r !== this.rank && !this.ready.has(r)) missing.push(r);
        throw new CollectiveTimeoutError(`restart after a lost connection (epoch ${epoch})`, missing, this.reconnectMs);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(EPOCH_INTERVAL_MS, left));
        function done(): void {
          clearTimeout(t);
          resolve();
        }
        this.wakeAnnounce = done;
      });
      this.wakeAnnounce = undefined;
    }
    return false;
  }

  /** A peer's readiness: a newer epoch moves this rank to it; an older one is told where the group is. */
  private onEpoch(m: EpochReady): void {
    if (this.failure || !this.joined) return;
    if (m.epoch > this.curEpoch) this.toEpoch(m.epoch, `rank ${m.rank} restarts the operations in flight (epoch ${m.epoch})`);
    if (m.epoch < this.curEpoch) {
      if (this.curEpoch > 0 && this.gateOpen) this.transport.control('epoch', this.readyMessage());
      return;
    }
    const isNew = !this.ready.has(m.rank);
    this.ready.set(m.rank, m);
    if (this.gateOpen) {
      if (!m.heardAll) this.transport.control('epoch', this.readyMessage());
      this.replayFor(m);
    } else if (isNew) this.wakeAnnounce?.();
  }

  /** Every rank is ready in the current epoch: the operations in flight run again, peers get the ones they still need. */
  private openGate(): void {
    this.gateOpen = true;
    const epoch = this.curEpoch;
    const pending = [...this.ops.keys()];
    this.emit('epoch', { epoch, phase: 'ready', reason: this.epochReason, pending, ms: performance.now() - this.epochBegan });
    this.transport.control('epoch', this.readyMessage()); // heardAll now: peers still waiting on us stop waiting
    for (const e of [...this.ops.values()]) {
      if (e.epoch !== undefined && e.epoch !== epoch) e.reset();
      if (e.epoch !== epoch) e.begin();
    }
    for (const m of this.ready.values()) this.replayFor(m);
  }

  /** Runs again, from their saved input, the operations this rank finished that peer `m` still has in flight. */
  private replayFor(m: EpochReady): void {
    for (const seq of m.pending) {
      if (this.ops.has(seq)) continue;
      const e = this.done.find((d) => d.seq === seq);
      const key = `${this.curEpoch}.${seq}`;
      if (!e || this.replayed.has(key)) continue;
      this.replayed.add(key);
      const epoch = this.curEpoch;
      this.mailbox.reopen(seq);
      const ctx = new OpContext(seq, epoch, this.rank, this.worldSize, e.fp16, e.chunkElems, this.transport, this.mailbox);
      // bounded: a peer that did not need it after all never sends its part
      const timer = setTimeout(() => this.mailbox.end(seq, new CollectiveAbortedError('replay timed out')), this.timeoutMs);
      void e
        .attempt(ctx, true)
        .then(() => this.transport.settle())
        .catch(noop)
        .finally(() => clearTimeout(timer));
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const f of [...this.active]) f(err);
    this.mailbox.endAll(err);
    this.done.length = 0;
    this.wakeAnnounce?.();
  }

  private algorithmFor(name: AlgorithmName, bytes: number): AllreduceAlgorithm & { label: ConcreteAlgorithm } {
    const concrete = name === 'auto' ? autoAlgorithm(this.topo, bytes) : name;
    const fn: AllreduceAlgorithm =
      concrete === 'ring'
        ? ringAllreduce
        : concrete === 'multicast'
          ? multicastAllreduce
          : hierarchicalAllreduce(this.topo, multicastAllreduce);
    return Object.assign(fn, { label: concrete });
  }

  /** Whether operations save their input (to restart or replay after a lost connection). */
  private get saves(): boolean {
    return this.reconnectMs > 0;
  }

  /**
   * Runs one operation under its timeout and signals; marks the group failed if it fails.
   * `attempt` runs once per epoch until one completes (the timeout counts per attempt);
   * `reset` puts the caller's buffers back before a new attempt.
   */
  private run<T>(
    name: OpEvent['op'],
    o: OpOptions,
    fp16: boolean,
    bytes: number,
    algorithm: ConcreteAlgorithm | undefined,
    attempt: (op: OpContext, replay: boolean) => Promise<T>,
    reset: () => void = noop,
  ): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.nextSeq++;
    const chunkElems = Math.max(1, Math.floor(this.chunkBytes / wireBytes(fp16)));
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
        this.ops.delete(seq);
        if (!err && this.saves && this.worldSize > 1) {
          // kept open: a peer's next attempt may arrive before this rank knows it must send again
          this.done.push(entry);
          if (this.done.length > KEEP_DONE_OPS) this.mailbox.end(this.done.shift()!.seq);
        } else this.mailbox.end(seq, err);
        this.emit('op', { op: name, seq, algorithm, bytes, ms: performance.now() - started, ...(err ? { error: err } : {}) });
        if (err) {
          this.fail(err);
          reject(err);
        } else resolve(value as T);
      };
      const onAbort = (): void => finish(new CollectiveAbortedError(`collective ${name} aborted`, { cause: o.signal?.reason }));
      const arm = (): void => {
        // probe liveness just before the deadline, so the error names the ranks that are gone
        const begun = performance.now();
        const window = probeWindowMs(timeoutMs);
        clearTimeout(probeTimer);
        probeTimer = setTimeout(
          () => {
            const deadline = begun + timeoutMs;
            const epoch = this.curEpoch;
            this.transport.probe(Math.max(0, deadline - performance.now())).then(
              (heard) => {
                if (settled || epoch !== this.curEpoch || !this.gateOpen) return;
                let missing: number[] = [];
                for (let r = 0; r < this.worldSize; r++) if (!heard.has(r)) missing.push(r);
                if (!missing.length) missing = this.mailbox.waitingOn(seq);
                finish(new CollectiveTimeoutError(name, missing, timeoutMs));
              },
              (e: unknown) => finish(asError(e)),
            );
          },
          Math.max(0, timeoutMs - window),
        );
      };
      const entry: OpEntry = {
        seq,
        fp16,
        chunkElems,
        attempt,
        reset,
        pause: () => clearTimeout(probeTimer),
        begin: () => {
          if (settled) return;
          const epoch = this.curEpoch;
          entry.epoch = epoch;
          arm();
          const ctx = new OpContext(seq, epoch, this.rank, this.worldSize, fp16, chunkElems, this.transport, this.mailbox);
          const p = attempt(ctx, false).then(async (v) => {
            await this.transport.settle();
            return v;
          });
          entry.running = p.then(noop, noop);
          // a complete attempt stands even if the group moved on meanwhile: every part of it arrived
          p.then(
            (v) => finish(undefined, v),
            (e: unknown) => {
              if (e instanceof EpochChanged || epoch !== this.curEpoch) return; // the next epoch runs it again
              finish(asError(e));
            },
          );
        },
      };
      this.active.add(finish);
      if (o.signal?.aborted) {
        onAbort();
        return;
      }
      o.signal?.addEventListener('abort', onAbort, { once: true });
      this.ops.set(seq, entry);
      if (this.gateOpen) entry.begin();
    });
  }

  allreduce(data: Float32Array, o: AllreduceOptions = {}): Promise<void> {
    const algo = this.algorithmFor(o.algorithm ?? this.opts.algorithm ?? 'auto', data.byteLength);
    const fp16 = o.fp16 ?? this.opts.fp16 ?? false;
    // the input, to start again from (a lost connection) or to send again (a peer that lost ours)
    const saved = this.saves && this.worldSize > 1 ? data.slice() : undefined;
    return this.run(
      'allreduce',
      o,
      fp16,
      data.byteLength,
      algo.label,
      async (ctx, replay) => {
        if (this.worldSize === 1) return;
        const buf = replay ? saved!.slice() : data;
        const all = Array.from({ length: this.worldSize }, (_, r) => r);
        await algo(ctx, buf, { members: all, index: this.rank, tag: '' });
        if (replay || o.op !== 'mean') return;
        await ctx.settle(); // our reduced shard may still be on its way out of `data`
        for (let i = 0; i < data.length; i++) data[i] /= this.worldSize;
      },
      () => {
        if (saved) data.set(saved);
      },
    );
  }

  broadcast(data: Float32Array, root: number, o: OpOptions = {}): Promise<void> {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize)
      return Promise.reject(new CollectiveError(`broadcast root ${root} is not a rank`));
    const saved = this.saves && this.rank === root && this.worldSize > 1 ? data.slice() : undefined;
    return this.run('broadcast', o, false, data.byteLength, undefined, async (ctx, replay) => {
      if (this.worldSize === 1) return;
      const chunks = chunksOf(data.length, ctx.chunkElems);
      if (this.rank === root) {
        const src = replay ? saved! : data;
        chunks.forEach((r, j) => ctx.sendAll('bc', j, encodeRange(src, r, false), true, data.length));
        return;
      }
      const dst = replay ? new Float32Array(data.length) : data;
      await Promise.all(
        chunks.map(async (r, j) => {
          if (j > 0) {
            await ctx.recvInto('bc', root, j, dst, r, 'copy');
            return;
          }
          const d = await ctx.recvDelivery('bc', root, 0); // carries the root's length
          if (d.total !== data.length) throw new CollectiveError(`broadcast of ${d.total} elements from rank ${root} into ${data.length}`);
          copyInto(dst, r, d.data, false);
        }),
      );
    });
  }

  allgather(data: Float32Array, o: OpOptions = {}): Promise<Float32Array[]> {
    const mine = data.slice();
    return this.run('allgather', o, false, data.byteLength, undefined, async (ctx) => {
      const out: Float32Array[] = new Array(this.worldSize);
      out[this.rank] = mine.slice();
      chunksOf(mine.length, ctx.chunkElems).forEach((r, j) => ctx.sendAll('ga', j, encodeRange(mine, r, false), true, mine.length));
      const peers: Promise<void>[] = [];
      for (let p = 0; p < this.worldSize; p++) {
        if (p === this.rank) continue;
        peers.push(
          (async () => {
            const first = await ctx.recvDelivery('ga', p, 0);
            const buf = new Float32Array(first.total);
            const chunks = chunksOf(first.total, ctx.chunkElems);
            copyInto(buf, chunks[0], first.data, false);
            await Promise.all(chunks.slice(1).map(async (r, i) => copyInto(buf, r, await ctx.recv('ga', p, i + 1), false)));
            out[p] = buf;
          })(),
        );
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
