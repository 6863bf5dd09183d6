/**
 * An actor's place in its gang across generations (JobSpec.recovery 'live'). The actor starts
 * in its spec's generation; when a peer is lost, the head bumps the generation but keeps the
 * survivors (a jobAbort whose `keep` names this actor, or the job record whose placement still
 * does): the group of the old generation is aborted at once (the collective operation in flight
 * rejects, so the step it belonged to is applied nowhere), and `regroup` waits until the job
 * record shows the new gang placed, closes the old group and moves to the new generation, whose
 * group opens on the next `group()`. Anything else (a newer generation without this actor, an
 * ended job, no decision in time) leaves the actor to stop as before.
 */
import type { Logger } from '../../shared/logger.ts';
import { TERMINAL_STATES, type ActorSpec, type JobAbort, type JobFence } from '../../shared/schemas/index.ts';
import { CollectiveTimeoutError } from '../collective/index.ts';
import type { CollectiveGroup } from './group.ts';
import { abortableSleep } from './sleep.ts';

/** how often the job record is read while a survivor waits for its new gang (ms) */
export const REGROUP_POLL_MS = 100;
/** how long a kept survivor waits for the lost ranks to be placed (default; ms) */
export const REGROUP_WAIT_MS = 60_000;

export interface LiveGangOptions {
  spec: ActorSpec;
  /** the actor's stop signal */
  stop: AbortSignal;
  log: Logger;
  /** opens the collective group of `spec`'s generation; `signal` ends it */
  openGroup(spec: ActorSpec, signal: AbortSignal): Promise<CollectiveGroup>;
  /** the job's record now (the fence's read) */
  readRecord(): Promise<JobFence | undefined>;
  /** told once the actor is in a newer generation */
  onMoved(spec: ActorSpec): void;
  /** see REGROUP_WAIT_MS */
  waitMs?: number;
}

interface Generation {
  spec: ActorSpec;
  ac: AbortController;
  group?: Promise<CollectiveGroup>;
}

export class LiveGang {
  private cur: Generation;
  /** the newest generation that keeps this actor, once told (jobAbort or record) */
  private keptIn: number | undefined;

  constructor(private readonly o: LiveGangOptions) {
    this.cur = this.generation(o.spec);
  }

  get spec(): ActorSpec {
    return this.cur.spec;
  }

  /** Fires when the current generation ends for this actor: it stops, or a newer generation keeps it. */
  get signal(): AbortSignal {
    return this.cur.ac.signal;
  }

  private generation(spec: ActorSpec): Generation {
    const ac = new AbortController();
    const stop = (): void => ac.abort(this.o.stop.reason);
    if (this.o.stop.aborted) stop();
    else this.o.stop.addEventListener('abort', stop, { once: true });
    return { spec, ac };
  }

  /** The current generation's group, joined on first call. */
  group(): Promise<CollectiveGroup> {
    return (this.cur.group ??= this.o.openGroup(this.cur.spec, this.cur.ac.signal));
  }

  /** The group if one was opened (for closing at exit). */
  opened(): Promise<CollectiveGroup> | undefined {
    return this.cur.group;
  }

  /**
   * A jobAbort of a newer generation: true when it keeps this actor (the group in flight is
   * aborted, the actor stays); false when the actor must stop.
   */
  onAbort(a: JobAbort): boolean {
    const mine = a.keep.find((k) => k.actorId === this.cur.spec.actorId);
    if (!mine) return false;
    this.kept(a.generation, `live recovery: generation ${a.generation} keeps this actor (${a.reason})`);
    return true;
  }

  /** The fence read a record of a newer generation that keeps this actor (a jobAbort may have been missed). */
  onKeptRecord(r: JobFence): void {
    this.kept(r.generation, `live recovery: the job record keeps this actor in generation ${r.generation}`);
  }

  private kept(generation: number, why: string): void {
    if (generation <= this.cur.spec.generation || (this.keptIn !== undefined && this.keptIn >= generation)) return;
    this.keptIn = generation;
    this.o.log.info({ generation }, why);
    this.cur.ac.abort(new Error(why));
  }

  /**
   * After a collective operation failed with `cause`: waits for the head's decision. True: the
   * actor is in a newer generation now (ctx.spec, ctx.group()); false: it is not kept (stop, or
   * rethrow `cause`). A timeout naming lost peers waits for the head to notice them; a kept
   * actor waits up to `waitMs` for its lost ranks to be placed (two leases for a timeout); other errors are not waited on.
   */
  async regroup(cause: unknown): Promise<boolean> {
    if (this.o.stop.aborted || this.cur.spec.job.recovery !== 'live') return false;
    const told = this.keptIn !== undefined || this.cur.ac.signal.aborted;
    if (!told && !(cause instanceof CollectiveTimeoutError)) return false;
    const lease = this.cur.spec.leaseMs ?? 3000;
    const waitMs = told ? (this.o.waitMs ?? REGROUP_WAIT_MS) : 2 * lease;
    const deadline = Date.now() + waitMs;
    const old = this.cur;
    while (Date.now() < deadline && !this.o.stop.aborted) {
      const r = await this.o.readRecord();
      const next = r && this.decision(r);
      if (next === null) return false;
      if (next) {
        await this.move(old, next);
        return true;
      }
      await abortableSleep(REGROUP_POLL_MS, this.o.stop).catch(() => undefined);
    }
    this.o.log.warn({ generation: old.spec.generation, waitMs }, 'no new gang in time: stopping');
    return false;
  }

  /** The new spec once the record shows a newer gang with this actor; null: not kept; undefined: not yet. */
  private decision(r: JobFence): ActorSpec | null | undefined {
    const spec = this.cur.spec;
    if (TERMINAL_STATES.includes(r.state)) return null;
    if (r.generation <= spec.generation) return undefined;
    const mine = r.placement.find((p) => p.actorId === spec.actorId);
    if (!mine) return null;
    if (r.state !== 'running') return undefined; // the lost ranks are not placed yet
    const byRank = [...r.placement].sort((a, b) => a.rank - b.rank);
    if (byRank.some((p, i) => p.rank !== i)) return undefined;
    return {
      ...spec,
      generation: r.generation,
      rank: mine.rank,
      worldSize: byRank.length,
      nodeOfRank: byRank.map((p) => p.nodeId),
      joinsLive: false,
    };
  }

  private async move(old: Generation, spec: ActorSpec): Promise<void> {
    old.ac.abort(new Error(`moved to generation ${spec.generation}`));
    const g = old.group && (await Promise.race([old.group.catch(() => undefined), abortableSleep(2000).then(() => undefined)]));
    await g?.close().catch(() => undefined);
    this.cur = this.generation(spec);
    this.keptIn = undefined;
    this.o.log.info(
      { generation: spec.generation, rank: spec.rank, worldSize: spec.worldSize },
      'joined the new generation of a live gang',
    );
    this.o.onMoved(spec);
  }
}
