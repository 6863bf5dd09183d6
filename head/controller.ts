/**
 * The head's brain. Every decision runs one at a time through `serial()`, and every job change
 * is a revision-checked KV write followed by its side effects: a `state` event when the state
 * changes, a `jobAbort` when the generation moves on. Inputs: REST calls, actor exits (durable
 * stream), node membership, progress events, and a periodic tick (dead nodes, lost actors,
 * scheduling, progress flush). Scheduling also runs at once on the events that can let the
 * queue move: a submit, a node registered, an actor's exit, a heartbeat with fewer actors.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../shared/logger.ts';
import type { Subjects } from '../shared/subjects.ts';
import { encode } from '../shared/codec.ts';
import { FlotillaError } from '../shared/errors.ts';
import type { JobSpec } from '../shared/schemas/job.ts';
import type { ActorExit, JobAbort } from '../shared/schemas/actor.ts';
import type { JobEvent } from '../shared/schemas/event.ts';
import type { ActorSpec } from '../shared/schemas/node.ts';
import type { JetStreamClient } from '@nats-io/jetstream';
import { JobStore, type HeadJob, type JobMutation } from './state/job-store.ts';
import type { NodeStore } from './state/node-store.ts';
import {
  placed,
  endGeneration,
  liveRecovery,
  sameIncident,
  incidentRestart,
  grown,
  isElastic,
  rankSucceeded,
  successRefusal,
  cancelled,
  rescaled,
  isTerminal,
  type GenerationEnd,
} from './state/transitions.ts';
import { capacity, planPass, poolSlots } from './scheduler/plan.ts';
import { waitQueue } from './scheduler/queue.ts';
import { WAITING, waitReason } from './scheduler/wait-reason.ts';
import { deadNodes, missingActors } from './supervisor/liveness.ts';
import { spawnActor } from './supervisor/spawn.ts';
import { publishEvent } from '../shared/event-publish.ts';
import { credsJwt, jwtClaims } from '../shared/nats-connect.ts';
import { problemKind, type HeadView } from './view.ts';
import type { CredentialMinter } from './auth/minter.ts';
import type { FaultDirector } from './faults/director.ts';

export interface ControllerOptions {
  deadAfterMs: number;
  restartBackoffMs: number;
  /** how long a spawn request may take (default 15000) */
  spawnTimeoutMs: number;
  /** a placed actor its node has not reported for this long is lost (default 2 * deadAfterMs) */
  actorGraceMs: number;
  /**
   * how long after its end a job still takes progress events (its last metrics may arrive after
   * its exits: another stream); later ones, like those of creds a node kept, change nothing (default LATE_PROGRESS_MS)
   */
  lateProgressMs?: number;
}

/** Default of ControllerOptions.lateProgressMs. */
export const LATE_PROGRESS_MS = 10_000;

/** Pending jobs whose wait message (scheduler/wait-reason.ts) one tick may rewrite, at most. */
const WAIT_REASON_WRITES = 32;

/** Jobs whose object stores are made ahead of their placement, at most. */
export const PREPARE_AHEAD_MAX = 16;

/** The id of rank `rank`'s actor in the job's generation `generation`. */
export function actorIdOf(jobId: string, generation: number, rank: number): string {
  return `${jobId}-g${generation}-r${rank}`;
}

/** A job's own object stores (head/job-stores.ts): made before its actors are spawned, sealed when it ends. */
export interface JobStoreKeeper {
  ensure(jobId: string): Promise<unknown>;
  seal(jobId: string): Promise<unknown>;
}

/** Records the NATS users (public keys) of the actor credentials minted for a node, before they are sent to it: revoking the node revokes them (auth/token-store.ts). */
export type ActorUsersIssued = (nodeId: string, users: string[]) => Promise<void>;

interface Progress {
  generation: number;
  step?: number;
  values?: Record<string, number>;
  checkpoint?: number;
}

export class Controller {
  readonly jobs: JobStore;
  readonly nodes: NodeStore;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #s: Subjects;
  readonly #log: Logger;
  readonly #o: ControllerOptions;
  readonly #minter: CredentialMinter | undefined;
  /** `<node> <user>`: actor users this head has recorded as issued to a node (one per node: auth/minter.ts) */
  readonly #recorded = new Set<string>();
  readonly #stores: JobStoreKeeper | undefined;
  readonly #issued: ActorUsersIssued | undefined;
  readonly #since = Date.now();
  readonly #lastReported = new Map<string, number>();
  readonly #progress = new Map<string, Progress>();
  /** when this head saw each job end (late progress is taken for lateProgressMs after it) */
  readonly #endedAt = new Map<string, number>();
  #chain: Promise<unknown> = Promise.resolve();
  readonly #view: HeadView | undefined;
  #seq = 0;
  #closed = false;
  /** while cut off: what kind of problem (its text without the figures) and since when (ms epoch) */
  #cutOff: { kind: string; since: number } | null = null;
  #faults: FaultDirector | undefined;

  constructor(d: {
    nc: NatsConnection;
    js: JetStreamClient;
    s: Subjects;
    jobs: JobStore;
    nodes: NodeStore;
    log: Logger;
    opts: ControllerOptions;
    view?: HeadView;
    minter?: CredentialMinter;
    stores?: JobStoreKeeper;
    issued?: ActorUsersIssued;
  }) {
    this.#nc = d.nc;
    this.#js = d.js;
    this.#s = d.s;
    this.jobs = d.jobs;
    this.nodes = d.nodes;
    this.#log = d.log;
    this.#o = d.opts;
    this.#view = d.view;
    this.#minter = d.minter;
    this.#stores = d.stores;
    this.#issued = d.issued;
  }

  /** Writes fail fast (503 FLO_UNAVAILABLE, with the reason) while the head is cut off from NATS. */
  #assertWritable(): void {
    const why = this.#view?.problem(2);
    if (why) throw new FlotillaError('FLO_UNAVAILABLE', `the head cannot reach NATS: ${why}`);
  }

  /** Runs `fn` after every decision queued before it; decisions never interleave. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.#closed = true;
  }

  /** Fault injection (head/faults/): told about spawned gangs, run in every tick. */
  attachFaults(d: FaultDirector): void {
    this.#faults = d;
  }

  // ---- REST-facing operations ------------------------------------------------------------

  /** `as`: a given id (a study's trial: a second submit of it is FLO_CONFLICT) and the study it belongs to */
  async submit(spec: JobSpec, owner?: string, note?: string, as: { id?: string; study?: string } = {}): Promise<HeadJob> {
    this.#assertWritable();
    const now = Date.now();
    const id = as.id ?? `j${now.toString(36)}${randomBytes(3).toString('hex')}`;
    const iso = new Date(now).toISOString();
    const job = await this.jobs.create({
      id,
      spec,
      state: 'pending',
      generation: 0,
      restarts: 0,
      step: 0,
      checkpoint_step: null,
      placement: [],
      metrics: {},
      created_at: iso,
      updated_at: iso,
      ...(owner ? { owner } : {}),
      ...(as.study ? { study: as.study } : {}),
      seq: now * 1000 + (this.#seq++ % 1000),
      finished: [],
      message: note ?? WAITING,
    });
    this.#log.info({ job: id, workers: spec.workers, priority: spec.priority }, 'job submitted');
    await this.#event({ type: 'state', jobId: id, ts: now, generation: 0, state: 'pending', message: job.message });
    void this.tick();
    return job;
  }

  cancel(id: string): Promise<HeadJob> {
    this.#assertWritable();
    return this.serial(() => this.#commit(id, (j) => cancelled(j)));
  }

  patch(id: string, workers: number): Promise<HeadJob> {
    this.#assertWritable();
    return this.serial(async () => {
      const j = await this.#commit(id, (cur) => (cur.spec.workers === workers ? null : rescaled(cur, workers, Date.now())));
      void this.tick();
      return j;
    });
  }

  // ---- inputs from workers -------------------------------------------------------------

  /**
   * An actor exit (from the durable exits stream; may be a redelivery). `sender`: the node
   * whose subject it came on (only that node may publish there); it must be the node the head
   * placed this actor on, for the job's current generation (older and future ones are dropped).
   */
  onExit(x: ActorExit, sender: string | undefined = x.nodeId): Promise<void> {
    return this.serial(async () => {
      const j = this.jobs.get(x.jobId);
      const p = j?.placement.find((q) => q.actorId === x.actorId);
      if (sender !== x.nodeId || (p && (p.nodeId !== sender || p.rank !== x.rank))) {
        this.#log.warn(
          { job: x.jobId, actor: x.actorId, sender, claimed: x.nodeId },
          'dropped an actor exit from a node that does not run that actor',
        );
        return;
      }
      // a survivor kept by live recovery still reports the generation it was spawned in
      const kept = p !== undefined && x.generation < (j?.generation ?? 0);
      if (!j || isTerminal(j.state) || (x.generation !== j.generation && !kept) || !p) {
        this.#log.debug({ job: x.jobId, actor: x.actorId, generation: x.generation }, 'ignored exit of a stale actor');
        return;
      }
      const log = this.#log.child({ job: x.jobId, actor: x.actorId, rank: x.rank, generation: x.generation });
      log.info({ outcome: x.outcome }, 'actor exited');
      if (x.outcome.kind === 'succeeded') {
        // the last steps ride in the same write, so a finished job shows its final step
        const p = this.#progress.get(x.jobId);
        this.#progress.delete(x.jobId);
        const cur = this.jobs.get(x.jobId) ?? j;
        const refused = successRefusal(withProgress(cur, p) ?? cur, x.rank, x.outcome.step);
        if (refused) {
          if (p) this.#progress.set(x.jobId, p);
          log.warn({ step: x.outcome.step }, refused);
          await this.#endGeneration(x.jobId, x.generation, 'retryable', refused);
          return;
        }
        const after = await this.#commit(x.jobId, (c) =>
          c.generation === x.generation ? rankSucceeded(withProgress(c, p) ?? c, x.rank, x.outcome.step, x.outcome.digest) : null,
        );
        // its slots are free now: the queue moves at once, not at the next periodic pass
        if (isTerminal(after.state)) void this.tick();
        return;
      }
      const end: GenerationEnd = x.outcome.kind === 'fatal' ? 'fatal' : 'retryable';
      const why = `rank ${x.rank} ${x.outcome.kind === 'cancelled' ? 'was stopped' : 'failed'}: ${x.outcome.message || x.outcome.signal || `exit ${x.outcome.exitCode}`}`;
      await this.#endGeneration(x.jobId, j.generation, end, why, [x.actorId]);
      // a live gang waits for its replacement: place it now, not at the next periodic tick
      void this.tick();
    });
  }

  /** A node registered (a new agent): its next actors get a new NATS user key (auth/minter.ts). */
  nodeRegistered(nodeId: string): void {
    this.#minter?.forgetNode(nodeId);
    for (const k of this.#recorded) if (k.startsWith(`${nodeId} `)) this.#recorded.delete(k);
  }

  /** A node's heartbeat shows fewer actors than before: a slot came free, so the queue may move now. */
  slotFreed(): void {
    void this.tick();
  }

  /**
   * A node announced it is leaving: no new actors there, and its actors move elsewhere. A live
   * gang keeps its ranks on other nodes (in memory, at the drain checkpoint's step) and only the
   * leaving node's ranks are placed again; a gang with no rank elsewhere restarts from the
   * checkpoint its rank 0 wrote for the drain.
   */
  onNodeLeaving(nodeId: string): Promise<void> {
    return this.serial(async () => {
      await this.nodes.setDraining(nodeId);
      for (const j of this.jobs.list()) {
        const leaving = j.placement.filter((p) => p.nodeId === nodeId).map((p) => p.actorId);
        if (!isTerminal(j.state) && leaving.length > 0) {
          await this.#endGeneration(j.id, j.generation, 'rescale', `node ${nodeId} is draining`, leaving);
        }
      }
      void this.tick();
    });
  }

  /**
   * A node whose closed connection was confirmed (supervisor/hints.ts: no ping answered, no
   * heartbeat since): dead now, as if its heartbeats had timed out. A head cut off from NATS
   * decides nothing, as in tick().
   */
  nodeGone(nodeId: string, why: string): Promise<void> {
    return this.serial(async () => {
      if (this.#closed || this.#view?.problem() || !this.nodes.has(nodeId)) return;
      await this.#nodeDied(nodeId, why);
      void this.tick();
    });
  }

  /** A metric or checkpoint event from the events stream. */
  onEvent(e: JobEvent): void {
    if (e.type !== 'metric' && e.type !== 'checkpoint') return;
    // progress may arrive after the exits (another stream): a finished job still takes it, for a
    // while: an actor's creds outlive its job, and what they send later must not rewrite the record
    const j = this.jobs.get(e.jobId);
    if (!j || e.generation !== j.generation) return;
    if (isTerminal(j.state)) {
      const at = this.#endedAt.get(j.id);
      if (at === undefined || Date.now() - at > (this.#o.lateProgressMs ?? LATE_PROGRESS_MS)) return;
    }
    const cur = this.#progress.get(e.jobId);
    const p: Progress = cur && cur.generation === e.generation ? cur : { generation: e.generation };
    // the epoch rides along in metrics so job lists can show it without reading the event stream
    if (e.type === 'metric' && e.rank === 0) {
      p.step = e.step;
      p.values = { ...p.values, ...e.values, ...(e.epoch !== undefined ? { epoch: e.epoch } : {}) };
    }
    if (e.type === 'checkpoint') p.checkpoint = Math.max(p.checkpoint ?? 0, e.step);
    this.#progress.set(e.jobId, p);
  }

  // ---- the periodic pass -----------------------------------------------------------------

  tick(): Promise<void> {
    return this.serial(async () => {
      if (this.#closed) return;
      // a head that is itself cut off decides nothing: the silence it hears is its own
      const why = this.#view?.problem() ?? null;
      this.#noteCutOff(why);
      if (why) return;
      const since = this.#view?.goodSince() ?? 0;
      const now = Date.now();
      const dead = deadNodes(this.nodes.list(), now, this.#o.deadAfterMs, since);
      if (dead.length > 1 && dead.length === this.nodes.list().length && !((await this.#view?.reachable()) ?? true)) {
        this.#log.warn({ nodes: dead.length }, 'hearing no node at all and no round trip to NATS: not declaring anyone dead');
        return;
      }
      for (const nodeId of dead) await this.#nodeDied(nodeId, 'heartbeats stopped');
      const byId = new Map(this.nodes.list().map((n) => [n.record.nodeId, n]));
      // the generation each job had when its actors were found missing: two missing ranks end it once
      const genOf = new Map(this.jobs.list().map((j) => [j.id, j.generation]));
      for (const m of missingActors(this.jobs.list(), byId, this.#lastReported, now, this.#o.actorGraceMs, Math.max(this.#since, since))) {
        const g = genOf.get(m.jobId);
        if (g !== undefined) await this.#endGeneration(m.jobId, g, 'retryable', `actor ${m.actorId} on ${m.nodeId} is gone`, [m.actorId]);
      }
      await this.#grow();
      for (const g of planPass(this.jobs.list(), this.nodes.list(), now)) await this.#place(g.job, g.nodeOfRank, g.gpusOfRank);
      // a job bigger than the whole pool says so (and what to do) while it waits; not while a
      // fresh head still hears its nodes come back, and a few writes per pass at most
      if (now - this.#since > 2 * this.#o.deadAfterMs) {
        let writes = 0;
        const nodes = this.nodes.list();
        const free = capacity(this.jobs.list(), nodes);
        for (const j of this.jobs.list()) {
          const why = waitReason(j, nodes, free);
          if (why === null || why === j.message) continue;
          await this.#commit(j.id, (cur) => (cur.state === 'pending' && cur.message === j.message ? { ...cur, message: why } : null));
          if (++writes >= WAIT_REASON_WRITES) break;
        }
      }
      // after the placements (they do not read progress; a generation's end flushes it first)
      await this.#flushProgress();
      for (const [id, at] of this.#endedAt) if (now - at > (this.#o.lateProgressMs ?? LATE_PROGRESS_MS)) this.#endedAt.delete(id);
      this.#prepareAhead(now);
      await this.#faults?.tick(now);
    });
  }

  // ---- internals -------------------------------------------------------------------------

  /**
   * Logs the head's view on a change of state only: cut off (and a change of the kind of
   * problem while cut off), then whole again with how long it was not. The reason's text carries
   * elapsed milliseconds, so it is compared without its figures.
   */
  #noteCutOff(why: string | null): void {
    const kind = why === null ? null : problemKind(why);
    if (kind === (this.#cutOff?.kind ?? null)) return;
    const now = Date.now();
    if (why !== null && kind !== null) {
      this.#log.warn({ reason: why }, 'head is cut off from NATS: no liveness decisions until its view is whole');
      this.#cutOff = { kind, since: this.#cutOff?.since ?? now };
    } else if (this.#cutOff) {
      const ms = now - this.#cutOff.since;
      this.#log.info({ cut_off_ms: ms }, `head view of NATS is whole again after ${ms} ms: every node gets a fresh grace period`);
      this.#cutOff = null;
    }
  }

  /**
   * For the jobs next in the queue (as many as the pool has slots, at most PREPARE_AHEAD_MAX):
   * their object stores, made while other jobs run, so a placement's path to its spawn does not
   * hold them (two stream creations cost 50-200 ms on a loaded 2-core machine).
   */
  #prepareAhead(now: number): void {
    if (!this.#stores) return;
    const n = Math.min(PREPARE_AHEAD_MAX, Math.max(1, poolSlots(this.nodes.list())));
    for (const job of waitQueue(this.jobs.list(), now).slice(0, n)) {
      if (job.generation > 0) continue; // a restart: its stores were made by its first placement
      void this.#stores?.ensure(job.id).then(
        // it ended while they were being made (its seal found none): seal them now
        () => {
          if (isTerminal(this.jobs.get(job.id)?.state ?? 'pending')) this.#seal(job.id);
        },
        (e: Error) => this.#log.debug({ job: job.id, err: e.message }, 'job stores not made ahead (made at placement)'),
      );
    }
  }

  /** Elastic live gangs below their size grow when a slot is free (the new ranks get the state from the gang). */
  async #grow(): Promise<void> {
    const free = capacity(this.jobs.list(), this.nodes.list()).reduce((a, n) => a + n.free, 0);
    if (free === 0) return;
    for (const j of this.jobs.list()) {
      if (
        j.state !== 'running' ||
        j.spec.recovery !== 'live' ||
        !isElastic(j) ||
        j.placement.length >= j.spec.workers ||
        j.finished.length > 0
      )
        continue;
      // not in the last tenth: ranks finishing while the new one starts would leave it alone in the new generation
      if (j.spec.trainer.kind === 'logreg' && j.step >= 0.9 * j.spec.trainer.steps) continue;
      await this.#commit(j.id, (cur) => (cur.generation === j.generation && cur.state === 'running' ? grown(cur) : null));
      return; // one per pass: the next pass sees the capacity this one took
    }
  }

  async #nodeDied(nodeId: string, why: string): Promise<void> {
    // a node that announced its drain and then went away left as planned: not a failure
    if (this.nodes.get(nodeId)?.record.draining) this.#log.info({ node: nodeId, why }, `node left after draining (${why})`);
    else this.#log.warn({ node: nodeId, why }, `node is dead (${why})`);
    await this.nodes.remove(nodeId);
    for (const j of this.jobs.list()) {
      if (!isTerminal(j.state) && j.placement.some((p) => p.nodeId === nodeId)) {
        await this.#endGeneration(
          j.id,
          j.generation,
          'retryable',
          `node ${nodeId} was lost (${why})`,
          j.placement.filter((p) => p.nodeId === nodeId).map((p) => p.actorId),
        );
      }
    }
  }

  /**
   * `lost`: the actors that are gone. A retryable loss in a job with recovery 'live' keeps the
   * other ranks (liveRecovery); otherwise, or with no survivor, the whole gang restarts.
   */
  async #endGeneration(id: string, generation: number, end: GenerationEnd, reason: string, lost?: string[]): Promise<void> {
    if (end === 'retryable' || lost) await this.#flushProgress(); // the step, for sameIncident
    await this.#commit(id, (cur) => {
      if (cur.generation !== generation || isTerminal(cur.state)) return null;
      if (end === 'retryable' && sameIncident(cur)) return incidentRestart(cur, reason, this.#o.restartBackoffMs, Date.now());
      // a drain ('rescale' with the leaving node's ranks) keeps the survivors too, uncounted
      const live =
        (end === 'retryable' || end === 'rescale') && lost && cur.spec.recovery === 'live' && cur.state === 'running'
          ? liveRecovery(cur, lost, reason, Date.now(), end === 'retryable')
          : null;
      return live ?? endGeneration(cur, end, reason, this.#o.restartBackoffMs, Date.now());
    });
  }

  /**
   * Places the gang of `nodeOfRank` (with the GPU indices of `gpusOfRank`); the survivors of a
   * live gang (job.placement) keep their entries and are not spawned.
   */
  async #place(job: HeadJob, nodeOfRank: string[], gpusOfRank: number[][] = []): Promise<void> {
    const gen = job.generation;
    const kept = job.placement;
    const placement = nodeOfRank.map(
      (nodeId, rank) =>
        kept.find((p) => p.rank === rank) ?? {
          rank,
          nodeId,
          actorId: actorIdOf(job.id, gen, rank),
          ...(gpusOfRank[rank]?.length ? { gpus: gpusOfRank[rank] } : {}),
        },
    );
    const fresh = placement.filter((p) => !kept.includes(p));
    let wrote = false;
    const j = await this.#commit(job.id, (cur) => {
      const same = cur.placement.length === kept.length && cur.placement.every((p, i) => p.actorId === kept[i].actorId);
      if (cur.generation !== gen || !same || isTerminal(cur.state)) return null;
      wrote = true;
      return placed(cur, placement, Date.now());
    });
    if (!wrote) return;
    // spawns go out concurrently and outside the decision queue; a failure ends the generation
    void (async () => {
      const creds = new Map<string, string | undefined>();
      const issue = async () => {
        for (const p of fresh) creds.set(p.actorId, await this.#minter?.actor(j.id, p.actorId, p.nodeId));
        // who got which actor user is on record before the creds leave the head (once per node and user)
        if (!this.#issued) return;
        for (const nodeId of new Set(fresh.map((p) => p.nodeId))) {
          const users = [
            ...new Set(
              fresh
                .filter((p) => p.nodeId === nodeId)
                .map((p) => creds.get(p.actorId))
                .filter((c): c is string => !!c)
                .map(credsUser),
            ),
          ].filter((u) => !this.#recorded.has(`${nodeId} ${u}`));
          if (users.length === 0) continue;
          await this.#issued(nodeId, users);
          for (const u of users) this.#recorded.add(`${nodeId} ${u}`);
        }
      };
      // the job's stores exist before any of its actors does (an actor may not create streams);
      // made ahead while the job queued (#prepareAhead), else now, beside the creds' record
      await Promise.all([this.#stores?.ensure(j.id), issue()]);
      // it ended while they were being made (the seal at its end may have found none): seal them, spawn nothing
      if (isTerminal(this.jobs.get(j.id)?.state ?? j.state)) {
        this.#seal(j.id);
        return;
      }
      await Promise.all(
        fresh.map((p) => {
          const spec: ActorSpec = {
            actorId: p.actorId,
            jobId: j.id,
            generation: gen,
            rank: p.rank,
            worldSize: placement.length,
            nodeOfRank,
            job: j.spec,
            leaseMs: this.#o.deadAfterMs,
            ...(kept.length > 0 ? { joinsLive: true } : {}),
            ...(p.gpus?.length ? { gpus: p.gpus } : {}),
          };
          return spawnActor(this.#nc, this.#s, p.nodeId, spec, this.#o.spawnTimeoutMs, creds.get(p.actorId));
        }),
      );
    })()
      .then(
        () => this.#faults?.spawned(j.id, gen),
        (e: Error) => {
          this.#log.warn({ job: j.id, generation: gen, err: e.message }, 'spawn failed');
          return this.serial(() => this.#endGeneration(j.id, gen, 'deferred', `spawn failed: ${e.message}`));
        },
      )
      .catch((e: Error) => this.#log.error({ job: j.id, err: e.message }, 'could not end a generation after a failed spawn'));
  }

  /** Writes a change, then publishes what it implies (state event, abort of older generations). */
  async #commit(id: string, fn: JobMutation): Promise<HeadJob> {
    const before = this.jobs.get(id);
    const after = await this.jobs.update(id, fn);
    if (!before || after === before) return after;
    const now = Date.now();
    if (after.generation > before.generation) {
      // live recovery: the survivors named here stay (see liveRecovery)
      const keep = after.placement.map((p) => ({ actorId: p.actorId, rank: p.rank }));
      const worldSize = after.state === 'running' ? after.placement.length : after.spec.workers;
      const abort: JobAbort = {
        jobId: id,
        generation: after.generation,
        reason: after.message ?? 'generation ended',
        keep,
        ...(keep.length ? { worldSize } : {}),
      };
      this.#nc.publish(this.#s.jobAbort(id), encode(abort));
      this.#progress.delete(id);
    }
    if (after.state !== before.state || after.generation !== before.generation) {
      this.#log.info(
        { job: id, from: before.state, to: after.state, generation: after.generation, restarts: after.restarts, message: after.message },
        'job state',
      );
      // faults that never fired expire before the terminal event (event readers stop at it)
      if (isTerminal(after.state) && !isTerminal(before.state))
        await this.#faults?.ended(after).catch((e: Error) => this.#log.warn({ job: id, err: e.message }, 'faults not expired'));
      // an ended job's stores take no more writes (in the background: sealing retries through elections)
      if (isTerminal(after.state) && !isTerminal(before.state)) {
        this.#seal(id);
        this.#endedAt.set(id, now);
      }
      await this.#event({
        type: 'state',
        jobId: id,
        ts: now,
        generation: after.generation,
        state: after.state,
        message: after.message,
        restarts: after.restarts,
        ...(after.state === 'recovering' && after.checkpoint_step !== null ? { checkpoint_step: after.checkpoint_step } : {}),
      });
    }
    return after;
  }

  #seal(id: string): void {
    void this.#stores?.seal(id).then(
      (sealed) => this.#log.debug({ job: id, sealed }, 'job stores sealed'),
      (e: Error) => this.#log.warn({ job: id, err: e.message }, 'job stores not sealed (sealed again at the next head start)'),
    );
  }

  /** Seals the stores of every job that has ended (a head that stopped between a job's end and its seal left them open). */
  async sealEnded(): Promise<void> {
    for (const j of this.jobs.list())
      if (isTerminal(j.state))
        await this.#stores?.seal(j.id).catch((e: Error) => this.#log.warn({ job: j.id, err: e.message }, 'job stores not sealed'));
  }

  async #flushProgress(): Promise<void> {
    const pending = [...this.#progress.entries()];
    this.#progress.clear();
    for (const [id, p] of pending) {
      await this.jobs
        .update(id, (cur) => withProgress(cur, p))
        .catch((e: Error) => this.#log.warn({ job: id, err: e.message }, 'progress not saved'));
    }
  }

  async #event(e: JobEvent): Promise<void> {
    await publishEvent(this.#js, this.#s, e).catch((err: Error) =>
      this.#log.warn({ job: e.jobId, err: err.message }, 'event not published'),
    );
  }
}

/** The job with the progress events' step, metrics and newest checkpoint; null when they belong to another generation (or there are none). */
function withProgress(cur: HeadJob, p: Progress | undefined): HeadJob | null {
  if (!p || cur.generation !== p.generation) return null;
  const next = { ...cur };
  if (p.step !== undefined) next.step = p.step;
  if (p.values) next.metrics = { ...cur.metrics, ...p.values };
  if (p.checkpoint !== undefined && p.checkpoint > (cur.checkpoint_step ?? -1)) next.checkpoint_step = p.checkpoint;
  return next;
}

/** The NATS user (public key) of minted creds. */
function credsUser(creds: string): string {
  const sub = jwtClaims(credsJwt(creds)).sub;
  if (!sub) throw new FlotillaError('FLO_INTERNAL', 'minted actor creds name no user');
  return sub;
}

export function assertFound(j: HeadJob | undefined, id: string): HeadJob {
  if (!j) throw new FlotillaError('FLO_NOT_FOUND', `no job ${id}`);
  return j;
}
