/**
 * The head's brain. Every decision runs one at a time through `serial()`, and every job change
 * is a revision-checked KV write (`commit`) followed by its side effects, the listeners of one
 * typed job-changed event (controller/listeners.ts): a `state` event when the state changes, a
 * `jobAbort` when the generation moves on. Inputs: REST calls, actor exits (durable stream,
 * controller/exits.ts), node membership, progress events (controller/progress.ts), and a
 * periodic tick whose passes live in controller/passes/ (liveness, grow, place, wait reasons,
 * stores made ahead); placed gangs are spawned by controller/spawn-pipeline.ts. Scheduling
 * also runs at once on the events that can let the queue move: a submit, a node registered, an
 * actor's exit, a heartbeat with fewer actors.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from '../shared/logger.ts';
import type { Subjects } from '../shared/subjects.ts';
import { FlotillaError } from '../shared/errors.ts';
import type { JobSpec } from '../shared/schemas/job.ts';
import type { ActorExit } from '../shared/schemas/actor.ts';
import type { NodeHeartbeat, NodeInfo } from '../shared/schemas/node.ts';
import type { JobEvent } from '../shared/schemas/event.ts';
import type { HeadJob, JobMutation, JobStore } from './state/job-store.ts';
import type { NodeStore } from './state/node-store.ts';
import { cancelled, isTerminal, rescaled } from './state/transitions.ts';
import { pendingJob } from './controller/new-job.ts';
import type { HeadView } from './view.ts';
import type { CredentialMinter } from './auth/minter.ts';
import type { FaultDirector } from './faults/director.ts';
import { LATE_PROGRESS_MS, type ActorUsersIssued, type ControllerOptions, type JobStoreKeeper } from './controller/options.ts';
import type { ControllerCore } from './controller/core.ts';
import { ProgressBuffer } from './controller/progress.ts';
import { CutOffLog } from './controller/cut-off.ts';
import { JobChanges } from './controller/job-changed.ts';
import { addCommitListeners, eventPublisher } from './controller/listeners.ts';
import { SpawnPipeline, type GangPlaced } from './controller/spawn-pipeline.ts';
import { endGeneration, nodeDied } from './controller/generation.ts';
import { actorExited } from './controller/exits.ts';
import { LivenessPass } from './controller/passes/liveness.ts';
import { growPass } from './controller/passes/grow.ts';
import { placePass } from './controller/passes/place.ts';
import { waitReasonPass } from './controller/passes/wait-reason.ts';
import { prepareAheadPass } from './controller/passes/prepare-ahead.ts';

export {
  LATE_PROGRESS_MS,
  PREPARE_AHEAD_MAX,
  actorIdOf,
  type ActorUsersIssued,
  type ControllerOptions,
  type JobStoreKeeper,
} from './controller/options.ts';

/** What others read of the nodes; their writes go through the controller (registerNode, markDraining, heartbeat). */
export type NodeView = Pick<NodeStore, 'list' | 'get' | 'has'>;

export class Controller {
  readonly jobs: JobStore;
  readonly nodes: NodeView;
  readonly #nodes: NodeStore;
  /** the job-changed event: every committed change runs its listeners (controller/listeners.ts) */
  readonly changes = new JobChanges();
  readonly #log: Logger;
  readonly #stores: JobStoreKeeper | undefined;
  readonly #since = Date.now();
  readonly #progress: ProgressBuffer;
  readonly #core: ControllerCore;
  readonly #spawn: SpawnPipeline;
  readonly #liveness: LivenessPass;
  readonly #cutOff: CutOffLog;
  readonly #event: (e: JobEvent) => Promise<void>;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #view: HeadView | undefined;
  #seq = 0;
  #closed = false;
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
    this.jobs = d.jobs;
    this.nodes = d.nodes;
    this.#nodes = d.nodes;
    this.#log = d.log;
    this.#view = d.view;
    this.#stores = d.stores;
    this.#progress = new ProgressBuffer(d.jobs, d.log, d.opts.lateProgressMs ?? LATE_PROGRESS_MS);
    this.#cutOff = new CutOffLog(d.log);
    this.#event = eventPublisher(d.js, d.s, d.log);
    const core: ControllerCore = {
      jobs: d.jobs,
      nodes: d.nodes,
      log: d.log,
      opts: d.opts,
      progress: this.#progress,
      commit: (id, fn) => this.#commit(id, fn),
      endGeneration: (...a) => endGeneration(core, ...a),
      nodeDied: (nodeId, why) => nodeDied(core, nodeId, why),
    };
    this.#core = core;
    this.#liveness = new LivenessPass(core, this.#since);
    this.#spawn = new SpawnPipeline({ ...d, spawnTimeoutMs: d.opts.spawnTimeoutMs, leaseMs: d.opts.deadAfterMs });
    addCommitListeners(this.changes, {
      ...d,
      progress: this.#progress,
      event: this.#event,
      faults: () => this.#faults,
      seal: (id) => this.#seal(id),
    });
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
    const job = await this.jobs.create(pendingJob(spec, now, this.#seq++, { ...as, owner, note }));
    const id = job.id;
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

  /** An actor exit (controller/exits.ts); `sender`: the node whose subject it came on. */
  onExit(x: ActorExit, sender: string | undefined = x.nodeId): Promise<void> {
    return this.serial(() => actorExited(this.#core, x, sender, () => void this.tick()));
  }

  /**
   * A node registered (`fresh`: a new agent, whose next actors get a new NATS user key:
   * auth/minter.ts), or was adopted from its heartbeat `hb` (it joined while no head ran).
   * Written in the serial path; the queue may move then.
   */
  registerNode(info: NodeInfo, how: { fresh: true } | { hb: NodeHeartbeat }): Promise<void> {
    return this.serial(async () => {
      await this.#nodes.register(info);
      if ('hb' in how) await this.#nodes.heartbeat(how.hb);
      else this.#spawn.forgetNode(info.nodeId);
      void this.tick();
    });
  }

  /**
   * A node's heartbeat; false for a node this head does not know. Applied at once, outside the
   * serial path: it is an observation, not a decision, and queued behind a decision it would age
   * (a tick could then call a live node dead).
   */
  heartbeat(hb: NodeHeartbeat): Promise<boolean> {
    return this.#nodes.heartbeat(hb);
  }

  /** No new actors on this node (the autoscaler is about to stop it); in the serial path. */
  markDraining(nodeId: string): Promise<void> {
    return this.serial(() => this.#nodes.setDraining(nodeId));
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
      await this.#nodes.setDraining(nodeId);
      for (const j of this.jobs.list()) {
        const leaving = j.placement.filter((p) => p.nodeId === nodeId).map((p) => p.actorId);
        if (!isTerminal(j.state) && leaving.length > 0) {
          await this.#core.endGeneration(j.id, j.generation, 'rescale', `node ${nodeId} is draining`, leaving);
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
      await this.#core.nodeDied(nodeId, why);
      void this.tick();
    });
  }

  /** A metric or checkpoint event from the events stream (buffered; written by the tick). */
  onEvent(e: JobEvent): void {
    this.#progress.onEvent(e);
  }

  // ---- the periodic pass -----------------------------------------------------------------

  tick(): Promise<void> {
    return this.serial(async () => {
      if (this.#closed) return;
      // a head that is itself cut off decides nothing: the silence it hears is its own
      const why = this.#view?.problem() ?? null;
      this.#cutOff.note(why);
      if (why) return;
      const since = this.#view?.goodSince() ?? 0;
      const now = Date.now();
      if (!(await this.#liveness.run(now, since, async () => (await this.#view?.reachable()) ?? true))) return;
      await growPass(this.#core);
      await placePass(this.#core, now, (g) => this.#spawnGang(g));
      await waitReasonPass(this.#core, now, this.#since);
      // after the placements (they do not read progress; a generation's end flushes it first)
      await this.#progress.flush();
      this.#progress.expire(now);
      prepareAheadPass(this.#core, now, this.#stores, (id) => this.#seal(id));
      await this.#faults?.tick(now);
    });
  }

  // ---- internals -------------------------------------------------------------------------

  /** Spawns a placed gang outside the decision queue; a failure ends its generation (in the queue). */
  #spawnGang(g: GangPlaced): void {
    const { job: j, generation: gen } = g;
    void this.#spawn
      .run(
        g,
        () => isTerminal(this.jobs.get(j.id)?.state ?? j.state),
        () => this.#seal(j.id),
      )
      .then(
        () => this.#faults?.spawned(j.id, gen),
        (e: Error) => {
          this.#log.warn({ job: j.id, generation: gen, err: e.message }, 'spawn failed');
          return this.serial(() => this.#core.endGeneration(j.id, gen, 'deferred', `spawn failed: ${e.message}`));
        },
      )
      .catch((e: Error) => this.#log.error({ job: j.id, err: e.message }, 'could not end a generation after a failed spawn'));
  }

  /** Writes a change, then runs the job-changed listeners (state event, abort of older generations, ...). */
  async #commit(id: string, fn: JobMutation): Promise<HeadJob> {
    const before = this.jobs.get(id);
    const after = await this.jobs.update(id, fn);
    if (!before || after === before) return after;
    await this.changes.emit({ id, before, after, now: Date.now() });
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
}

export function assertFound(j: HeadJob | undefined, id: string): HeadJob {
  if (!j) throw new FlotillaError('FLO_NOT_FOUND', `no job ${id}`);
  return j;
}
