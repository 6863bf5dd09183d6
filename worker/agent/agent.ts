/**
 * The node agent: registers the node with the head (retried until one answers), heartbeats
 * the actors it runs, starts one process per actor on `spawn` (a warm one from its pool when
 * one is ready, else a fresh fork), reaps each into an `actorExit`, stops older generations on
 * `jobAbort`, and on leave hands its actors back before exiting.
 * Over 300 lines: spawn, exit, abort and leave all read and change one actor table and state.
 */
import { hostname } from 'node:os';
import type { Subscription } from '@nats-io/transport-node';
import { jsClient } from '../../shared/js-domain.ts';
import type { Logger } from '../../shared/logger.ts';
import { decode, encode } from '../../shared/codec.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { subjects, type Subjects } from '../../shared/subjects.ts';
import {
  type ActorExit,
  JobAbort,
  type NodeControl,
  type ActorBrief,
  type ActorSpec,
  type NodeHeartbeat,
  type NodeInfo,
} from '../../shared/schemas/index.ts';
import { abortableSleep } from '../actor/index.ts';
import { call, serve, type ReplyOf } from '../../shared/endpoint.ts';
import { DrainCheckpoint, NodeControlEndpoint } from '../../shared/endpoints.ts';
import { ActorProcess } from './actor-process.ts';
import { coreShareEnv } from './actor-threads.ts';
import { reportExit } from './exit-report.ts';
import { AgentFaults } from './faults.ts';
import { WarmPool } from './warm-pool.ts';
import { GpuMonitor, gpuEnv, type GpuInventory } from './gpus.ts';

import { checkSpec, type AgentOptions, type AgentState } from './agent-options.ts';
import { registerUntilAnswered } from './register.ts';

export { AGENT_STATES, checkSpec, type AgentOptions, type AgentState } from './agent-options.ts';

export class Agent {
  state: AgentState = 'starting';
  readonly info: NodeInfo;
  private readonly s: Subjects;
  private readonly actors = new Map<string, ActorProcess>();
  private readonly subs: Subscription[] = [];
  /** actors being forked (they count against the slots; a second spawn of one waits for it) */
  private readonly spawning = new Map<string, Promise<ActorProcess>>();
  /** the GPUs of the actors being forked */
  private readonly forkingGpus = new Map<string, number[]>();
  /** per job, the generation of the newest jobAbort: older actors are refused or stopped */
  private readonly abortedBelow = new Map<string, number>();
  private readonly closing = new AbortController();
  /** exit reports not yet acknowledged by the exits stream */
  private readonly reports = new Set<Promise<boolean>>();
  private readonly reportsGiveUp = new AbortController();
  private leaving: Promise<void> | undefined;
  private hbTimer: NodeJS.Timeout | undefined;
  private readonly o: Required<
    Omit<AgentOptions, 'actorEnv' | 'preempt' | 'die' | 'gpus' | 'gpuRefreshMs' | 'joined' | 'onUnregistrable'>
  > &
    Pick<AgentOptions, 'actorEnv' | 'joined' | 'onUnregistrable'>;
  private readonly gpus: GpuInventory;
  private readonly gpuMonitor: GpuMonitor;
  private readonly faults: AgentFaults;
  /** pre-started actor processes (absent with warmActors 0) */
  readonly warm: WarmPool | undefined;
  /** beats sent by this process (NodeHeartbeat.seq) */
  private beats = 0;
  /** resolves once a head has accepted the registration */
  readonly registered: Promise<NodeInfo>;
  private resolveRegistered!: (i: NodeInfo) => void;

  constructor(opts: AgentOptions) {
    this.o = {
      ...opts,
      heartbeatNc: opts.heartbeatNc ?? opts.nc,
      actorEnv: { ...coreShareEnv(opts.slots), ...opts.actorEnv },
      heartbeatMs: opts.heartbeatMs ?? 1000,
      stopGraceMs: opts.stopGraceMs ?? 3000,
      leaveWaitMs: opts.leaveWaitMs ?? 8000,
      drainCheckpointMs: opts.drainCheckpointMs ?? 15_000,
      exitFlushMs: opts.exitFlushMs ?? 5000,
      warmActors: opts.warmActors ?? 1,
      warmRefillMs: opts.warmRefillMs ?? 10_000,
    };
    this.gpus = opts.gpus ?? { source: 'none', gpus: [], pin: false };
    this.gpuMonitor = new GpuMonitor(this.gpus, opts.gpuRefreshMs ?? 5000);
    if (this.o.warmActors > 0) {
      // the pool's processes get the actors' env minus any creds: a warm process holds none, and
      // no GPU either (an actor that needs one is a fresh fork, pinned from its first instruction)
      const env = { ...this.o.actorEnv, FLOTILLA_NATS_CREDS: undefined, ...(this.gpus.pin ? gpuEnv([]) : {}) };
      this.warm = new WarmPool({
        size: this.o.warmActors,
        natsUrl: opts.natsUrl,
        prefix: opts.prefix,
        root: opts.root,
        entry: opts.actorEntry,
        env,
        onProblem: (what, details) => this.o.log.warn(details, what),
      });
    }
    this.s = subjects(opts.prefix);
    this.info = {
      nodeId: opts.nodeId,
      host: hostname(),
      slots: opts.slots,
      backend: opts.backend.backend,
      device: opts.backend.device,
      pid: process.pid,
      started_at: new Date().toISOString(),
      ...(this.gpus.gpus.length > 0 ? { gpus: this.gpus.gpus } : {}),
      ...(opts.gpus ? { gpu_source: this.gpus.source } : {}),
    };
    this.registered = new Promise((r) => {
      this.resolveRegistered = r;
    });
    this.faults = new AgentFaults({
      nodeId: opts.nodeId,
      nc: opts.nc,
      s: this.s,
      log: opts.log,
      actors: () => this.actors,
      closing: this.closing.signal,
      preempt: opts.preempt ?? (() => process.kill(process.pid, 'SIGTERM')),
      die: opts.die ?? (() => process.kill(process.pid, 'SIGKILL')),
    });
  }

  private get log(): Logger {
    return this.o.log;
  }

  /** Serves control requests and aborts, starts heartbeats and the registration loop. */
  async start(): Promise<void> {
    const { nc } = this.o;
    this.subs.push(serve(nc, NodeControlEndpoint, this.s.nodeControl(this.info.nodeId), (ctl) => this.onControl(ctl), { log: this.log }));
    this.subs.push(
      nc.subscribe(this.s.jobAbortAll, {
        callback: (err, m) => {
          if (!err) this.onAbort(m.data);
        },
      }),
    );
    await nc.flush();
    this.state = 'running';
    this.warm?.fill();
    this.beat();
    this.hbTimer = setInterval(() => this.beat(), this.o.heartbeatMs);
    void this.registerLoop();
  }

  briefs(): ActorBrief[] {
    return [...this.actors.values()].map(({ spec }) => ({
      actorId: spec.actorId,
      jobId: spec.jobId,
      generation: spec.generation,
      rank: spec.rank,
      ...(spec.gpus?.length ? { gpus: spec.gpus } : {}),
    }));
  }

  private heartbeat(): NodeHeartbeat {
    const gpus = this.gpuMonitor.sample();
    return {
      ...(gpus ? { gpus } : {}),
      nodeId: this.info.nodeId,
      ts: Date.now(),
      seq: this.beats,
      slots: this.info.slots,
      actors: this.briefs(),
      draining: this.state === 'draining',
      ...(this.warm ? { warm: this.warm.stats() } : {}),
    };
  }

  private beat(): void {
    const nc = this.o.heartbeatNc;
    if (nc.isClosed()) return;
    nc.publish(this.s.nodeHeartbeat(this.info.nodeId), encode(this.heartbeat()));
    this.beats++;
  }

  private async registerLoop(): Promise<void> {
    const o = this.o;
    const ok = await registerUntilAnswered({
      nc: o.nc,
      s: this.s,
      info: this.info,
      log: this.log,
      signal: this.closing.signal,
      joined: o.joined,
      onUnregistrable: o.onUnregistrable,
    });
    if (ok) this.resolveRegistered(this.info);
  }

  private async onControl(ctl: NodeControl): Promise<ReplyOf<typeof NodeControlEndpoint>> {
    switch (ctl.op) {
      case 'ping':
        return this.info;
      case 'spawn':
        return this.spawn(ctl.actor, ctl.creds);
      case 'stop': {
        const a = this.actors.get(ctl.actorId);
        if (!a) throw new FlotillaError('FLO_NOT_FOUND', `no actor ${ctl.actorId} on node ${this.info.nodeId}`);
        a.stop('cancelled', ctl.reason, this.o.stopGraceMs);
        return { actorId: ctl.actorId, stopping: true };
      }
      case 'drain':
        this.state = 'draining';
        this.beat();
        return { draining: true, actors: this.briefs() };
      case 'fault':
        return this.faults.accept(ctl.fault);
    }
  }

  private async spawn(spec: ActorSpec, creds?: string): Promise<{ actorId: string; pid: number | undefined; existing?: boolean }> {
    checkSpec(spec);
    // No await between these checks and `spawning.set` below: concurrent requests see each other.
    const inFlight = this.spawning.get(spec.actorId);
    const existing = this.actors.get(spec.actorId) ?? (inFlight && (await inFlight.catch(() => undefined)));
    if (existing) {
      if (existing.spec.jobId !== spec.jobId || existing.spec.generation !== spec.generation || existing.spec.rank !== spec.rank) {
        throw new FlotillaError(
          'FLO_CONFLICT',
          `actor ${spec.actorId} already runs job ${existing.spec.jobId} generation ${existing.spec.generation} rank ${existing.spec.rank}`,
        );
      }
      return { actorId: spec.actorId, pid: existing.pid, existing: true };
    }
    if (this.state !== 'running') throw new FlotillaError('FLO_INVALID_STATE', `node ${this.info.nodeId} is ${this.state}`);
    this.assertCurrent(spec);
    // An actor already told to stop is gone within its grace period (SIGKILL at worst), so it
    // does not hold its slot against the replacement the head places right after an abort.
    const busy = [...this.actors.values()].filter((a) => !a.stopping).length + this.spawning.size;
    if (busy >= this.info.slots) {
      throw new FlotillaError('FLO_NO_CAPACITY', `node ${this.info.nodeId} runs ${busy}/${this.info.slots} actors`);
    }
    this.checkGpus(spec);
    const log = this.log.child({ job: spec.jobId, actor: spec.actorId, rank: spec.rank, generation: spec.generation });
    // a warm process has loaded its backend with every GPU hidden: an actor with GPUs is forked fresh
    const warm = spec.gpus?.length ? undefined : this.warm?.take();
    let proc: ActorProcess;
    if (warm) {
      // without minted creds (a server without auth, or tests) the actors' configured env creds apply, over IPC too
      proc = ActorProcess.adopt(warm, spec, creds ?? this.o.actorEnv?.FLOTILLA_NATS_CREDS, log);
      this.refillAfter(proc);
    } else {
      const env = this.gpus.pin ? { ...this.o.actorEnv, ...gpuEnv(spec.gpus ?? []) } : this.o.actorEnv;
      const forking = ActorProcess.spawn(spec, {
        natsUrl: this.o.natsUrl,
        prefix: this.o.prefix,
        root: this.o.root,
        entry: this.o.actorEntry,
        log,
        env,
        creds,
      });
      this.spawning.set(spec.actorId, forking);
      this.forkingGpus.set(spec.actorId, spec.gpus ?? []);
      try {
        proc = await forking;
      } finally {
        this.spawning.delete(spec.actorId);
        this.forkingGpus.delete(spec.actorId);
      }
    }
    this.actors.set(spec.actorId, proc);
    this.faults.attach(proc);
    log.info({ pid: proc.pid, warm: warm !== undefined }, 'actor spawned');
    void proc.exited.then((outcome) => {
      this.actors.delete(spec.actorId);
      // a pooled process that ran its actor to a clean end waits for the next placement
      if (proc.returned) {
        if (this.warm && this.state === 'running') this.warm.giveBack(proc.child);
        else proc.child.kill('SIGTERM');
      }
      const exit: ActorExit = {
        // proc.spec: a survivor kept by live recovery reports the generation it is in now
        nodeId: this.info.nodeId,
        actorId: spec.actorId,
        jobId: spec.jobId,
        generation: proc.spec.generation,
        rank: proc.spec.rank,
        outcome,
      };
      log.info({ outcome }, 'actor exited');
      this.report(exit, log);
      this.beat();
    });
    // A jobAbort that arrived while it was forking (before the actor could hear it) still applies.
    const newer = this.abortedBelow.get(spec.jobId);
    if (newer !== undefined && spec.generation < newer) proc.stop('cancelled', `job aborted (generation ${newer})`, this.o.stopGraceMs);
    this.beat();
    return { actorId: spec.actorId, pid: proc.pid };
  }

  /**
   * Refills the warm pool once the actor that took a warm process is under way (its first step
   * or its exit), or after `warmRefillMs`: a refill (~2 s of CPU, more with YOLOv5's warm-up
   * step) would otherwise compete for the cores with the start it was meant to speed up, and on
   * a multi-slot node with the other ranks' starts that come with it. An actor that ends clean
   * gives its process back (worker/actor/reuse.ts), so a steady stream of short jobs forks nothing.
   */
  private refillAfter(proc: ActorProcess): void {
    const timer = new Promise<void>((r) => setTimeout(r, this.o.warmRefillMs).unref());
    void Promise.race([proc.firstBeat, proc.exited, timer]).then(() => {
      if (this.state === 'running') this.warm?.fill();
    });
  }

  /** Sends an exit report that is retried until the exits stream has it (see exit-report.ts). */
  private report(exit: ActorExit, log: Logger): void {
    const js = jsClient(this.o.nc);
    const p = reportExit(
      js,
      this.s.actorExit(this.info.nodeId),
      exit,
      this.reportsGiveUp.signal,
      (err, attempt) => {
        if (attempt === 1 || attempt % 10 === 0) log.warn({ err, attempt }, 'actor exit not acknowledged yet; retrying');
      },
      (err) => log.error({ err, exit }, 'actor exit report given up (agent closing, or an error no retry can fix)'),
    );
    this.reports.add(p);
    void p.finally(() => this.reports.delete(p));
  }

  /**
   * The GPUs the head gave the actor are this node's and held by no other actor here (an actor
   * told to stop is gone within its grace period and, as with slots, holds none).
   */
  private checkGpus(spec: ActorSpec): void {
    const want = spec.gpus ?? [];
    if (want.length === 0) return;
    const mine = new Set(this.gpus.gpus.map((g) => g.index));
    const foreign = want.filter((g) => !mine.has(g));
    if (foreign.length) {
      throw new FlotillaError(
        'FLO_VALIDATION',
        `invalid message: actor.gpus: node ${this.info.nodeId} offers GPU(s) [${[...mine].join(',')}], not [${foreign.join(',')}]`,
        {
          details: [{ path: 'actor.gpus', message: `not offered here: ${foreign.join(',')}` }],
        },
      );
    }
    const held = new Set([
      ...[...this.actors.values()].filter((a) => !a.stopping).flatMap((a) => a.spec.gpus ?? []),
      ...[...this.forkingGpus.values()].flat(),
    ]);
    const taken = want.filter((g) => held.has(g));
    if (taken.length)
      throw new FlotillaError('FLO_NO_CAPACITY', `node ${this.info.nodeId}: GPU(s) ${taken.join(',')} held by another actor`);
  }

  /** Refuses an actor of a generation the head has already aborted. */
  private assertCurrent(spec: ActorSpec): void {
    const newer = this.abortedBelow.get(spec.jobId);
    if (newer !== undefined && spec.generation < newer) {
      throw new FlotillaError('FLO_STALE_GENERATION', `job ${spec.jobId} generation ${spec.generation} was aborted (now ${newer})`);
    }
  }

  private onAbort(data: Uint8Array): void {
    let abort: JobAbort;
    try {
      abort = decode(JobAbort, data);
    } catch (err) {
      this.log.warn({ err }, 'ignoring a malformed jobAbort');
      return;
    }
    this.abortedBelow.set(abort.jobId, Math.max(abort.generation, this.abortedBelow.get(abort.jobId) ?? 0));
    for (const a of this.actors.values()) {
      const kept = abort.jobId === a.spec.jobId ? abort.keep.find((k) => k.actorId === a.spec.actorId) : undefined;
      if (kept && a.spec.generation < abort.generation) {
        // live recovery: the actor stays, in the new generation (it regroups on its own)
        a.spec = { ...a.spec, generation: abort.generation, rank: kept.rank, worldSize: abort.worldSize ?? a.spec.worldSize };
        this.log.info({ actor: a.spec.actorId, generation: abort.generation, rank: kept.rank }, 'actor kept by live recovery');
        continue;
      }
      if (a.spec.jobId === abort.jobId && a.spec.generation < abort.generation) {
        this.log.info(
          { actor: a.spec.actorId, generation: a.spec.generation, to: abort.generation },
          'aborting actor of an older generation',
        );
        a.stop('cancelled', `job aborted: ${abort.reason}`, this.o.stopGraceMs);
      }
    }
  }

  /** Waits until no actor runs here or the signal fires; true when none is left. */
  private async waitEmpty(signal: AbortSignal): Promise<boolean> {
    while (this.actors.size > 0 && !signal.aborted) {
      const woke = new AbortController(); // no sleep outlives the wait
      const wake = () => woke.abort();
      signal.addEventListener('abort', wake, { once: true });
      await Promise.race<unknown>([...[...this.actors.values()].map((a) => a.exited), abortableSleep(60_000, woke.signal)]);
      woke.abort();
      signal.removeEventListener('abort', wake);
    }
    return this.actors.size === 0;
  }

  /**
   * Asks rank 0 of every job with an actor here for a checkpoint of the step in flight (drain.ts);
   * resolves once each answered or failed to within `drainCheckpointMs`.
   */
  private async checkpointJobs(): Promise<void> {
    const jobs = new Map<string, number>();
    for (const a of this.actors.values()) if (!a.stopping) jobs.set(a.spec.jobId, a.spec.generation);
    await Promise.all(
      [...jobs].map(async ([jobId, generation]) => {
        const log = this.log.child({ job: jobId, generation });
        try {
          const done = await call(
            this.o.nc,
            DrainCheckpoint,
            this.s.jobCheckpoint(jobId, this.info.nodeId),
            { jobId, generation, reason: `node ${this.info.nodeId} leaving` },
            { timeoutMs: this.o.drainCheckpointMs },
          );
          log.info({ ...done }, 'drain checkpoint written');
        } catch (err) {
          log.warn({ err }, 'no drain checkpoint; the gang resumes from its last periodic one');
        }
      }),
    );
  }

  /**
   * Leaves the cluster: has rank 0 of each local job checkpoint the step in flight, then
   * announces `nodeLeaving` (draining), waits up to `leaveWaitMs` for the head to move the
   * actors away, stops what is left as retryable, then closes.
   */
  leave(): Promise<void> {
    return (this.leaving ??= this.leaveOnce());
  }

  private async leaveOnce(): Promise<void> {
    if (this.state === 'stopped') return;
    if (this.state === 'running') this.state = 'checkpointing';
    await this.checkpointJobs();
    this.state = 'draining';
    const hb = this.heartbeat();
    this.o.nc.publish(this.s.nodeLeaving(this.info.nodeId), encode(hb));
    this.beat();
    this.log.info({ actors: hb.actors.length }, 'leaving: waiting for the head to move actors');
    const moved = await this.waitEmpty(AbortSignal.timeout(this.o.leaveWaitMs));
    if (!moved) {
      this.log.warn({ actors: this.briefs() }, 'head did not move every actor in time; stopping them');
      for (const a of this.actors.values()) a.stop('retryable', 'node leaving', this.o.stopGraceMs);
      await this.waitEmpty(AbortSignal.timeout(this.o.stopGraceMs + 1000));
    }
    await this.close();
  }

  /** Stops timers and subscriptions; SIGKILLs any actor still alive. Leaves the connection open. */
  async close(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.closing.abort();
    clearInterval(this.hbTimer);
    for (const sub of this.subs) sub.unsubscribe();
    this.warm?.close();
    for (const a of this.actors.values()) a.stop('retryable', 'agent closed', 0);
    await Promise.all([...this.actors.values()].map((a) => a.exited));
    if (this.reports.size > 0) {
      const giveUp = setTimeout(() => this.reportsGiveUp.abort(), this.o.exitFlushMs);
      await Promise.all([...this.reports]);
      clearTimeout(giveUp);
    }
    this.reportsGiveUp.abort();
    if (!this.o.nc.isClosed()) await this.o.nc.flush().catch(() => undefined);
  }
}
